#!/bin/sh
# A development certificate authority for voucherd (never for production).
#
#   deploy/dev-ca.sh DIR                 make DIR/ca.pem, DIR/server.pem + .key (localhost, 127.0.0.1, ::1)
#   deploy/dev-ca.sh DIR client NAME     make DIR/NAME.pem + .key, a client certificate for a provider
#   deploy/dev-ca.sh DIR fingerprint NAME  print the SHA-256 fingerprint voucherd matches
#   deploy/dev-ca.sh DIR revoke NAME     revoke NAME.pem and (re)write DIR/crl.pem, the CA's CRL
#                                        (server.tls_crl), with every revocation so far
#
# Keys are ECDSA P-256; certificates last 825 days (clients) / 10 years (CA).
set -eu
dir=${1:?usage: dev-ca.sh DIR [client NAME | fingerprint NAME | revoke NAME]}
what=${2:-ca}
mkdir -p "$dir"
umask 077

ca() {
	[ -f "$dir/ca.pem" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/O=voucherd development/CN=voucherd dev CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/O=voucherd development/CN=localhost" \
		-keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$dir/server.ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
		-days 825 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
	rm -f "$dir/server.csr" "$dir/server.ext"
	chmod 644 "$dir/ca.pem" "$dir/server.pem"
}

client() {
	name=$1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/O=voucherd development/CN=$name" \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >"$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
		-days "${DAYS:-825}" -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
	rm -f "$dir/$name.csr" "$dir/$name.ext"
	chmod 644 "$dir/$name.pem"
}

revoke() {
	cat >"$dir/ca.cnf" <<CNF
[ca]
default_ca = dev
[dev]
database = $dir/index.txt
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 30
certificate = $dir/ca.pem
private_key = $dir/ca.key
CNF
	touch "$dir/index.txt"
	[ -f "$dir/crlnumber" ] || echo 01 >"$dir/crlnumber"
	openssl ca -config "$dir/ca.cnf" -revoke "$dir/$1.pem" -batch 2>/dev/null
	openssl ca -config "$dir/ca.cnf" -gencrl -out "$dir/crl.pem" -batch 2>/dev/null
	chmod 644 "$dir/crl.pem"
}

case "$what" in
ca) ca ;;
client) ca; client "${3:?client NAME}" ;;
revoke) revoke "${3:?revoke NAME}" ;;
fingerprint)
	openssl x509 -in "$dir/${3:?fingerprint NAME}.pem" -noout -fingerprint -sha256 |
		sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
	;;
*) echo "usage: dev-ca.sh DIR [client NAME | fingerprint NAME | revoke NAME]" >&2; exit 2 ;;
esac
