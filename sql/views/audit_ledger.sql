-- Audit views of the ledger.  Columns are only ever added, at the end.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

CREATE OR REPLACE VIEW audit.ledger_entries AS
	SELECT entry_id, at, debit, credit, amount_fen, run_id, memo, alg, hash, prev_hash
	  FROM voucher.ledger_entries;

-- Balances: every account's, derived from the entries.
CREATE OR REPLACE VIEW audit.ledger_balances AS
	SELECT account, sum(amount) AS balance_fen, count(*) AS postings
	  FROM (SELECT debit AS account, amount_fen AS amount FROM voucher.ledger_entries
		UNION ALL
		SELECT credit, -amount_fen FROM voucher.ledger_entries) p
	 GROUP BY account;

CREATE OR REPLACE VIEW audit.grants AS
	SELECT run_id, program, year, uscc, amount_fen FROM voucher.grants;
