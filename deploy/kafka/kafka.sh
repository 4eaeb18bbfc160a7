#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) without Docker, from Maven Central jars.
#
# Usage: deploy/kafka/kafka.sh {up|down|restart|status|reset|fetch|logs}
#
#   up       fetch jars if needed, render config, format storage on first run,
#            start the broker in the background and wait until it serves requests.
#            Exits 0 straight away if it is already running.
#   down     stop it (SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT); 0 if not running.
#   restart  down + up, keeping the data.
#   status   print state and listeners; exit 0 if running, 3 if not.
#   reset    down + delete the data directory, and the worker's local state directory
#            (RW_STATE_DIR, default ./state) when a worker marked it as its own.
#   fetch    only download the jars into deploy/kafka/.lib/.
#   logs     print the last 100 lines of the broker log.
#
# Environment (all optional):
#   KAFKA_PORT             PLAINTEXT listener port on 127.0.0.1        (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port              (default KAFKA_PORT+1)
#   KAFKA_SECURITY         plaintext | sasl_ssl                        (default plaintext)
#                          sasl_ssl adds a SASL_SSL listener (SCRAM-SHA-512) next to
#                          PLAINTEXT; it writes the CA certificate to $KAFKA_DATA_DIR/ca.pem.
#   KAFKA_SASL_SSL_PORT    SASL_SSL listener port                      (default KAFKA_PORT+2)
#   KAFKA_SASL_USER        SCRAM user created for sasl_ssl             (default rw)
#   KAFKA_SASL_PASSWORD    its password                                (default rw-secret)
#   KAFKA_SSL_PASSWORD     password of the generated keystore/truststore (default restrictwatch-dev)
#   KAFKA_DATA_DIR         config, logs, pid file, TLS material, topic data
#                          (default deploy/kafka/.data)
#   KAFKA_HEAP_OPTS        broker JVM heap                             (default "-Xms256m -Xmx1g")
#   KAFKA_START_TIMEOUT    seconds `up` waits for readiness            (default 90)
#   KAFKA_STOP_TIMEOUT     seconds `down` waits before SIGKILL         (default 30)
#   JAVA                   java binary (default $JAVA_HOME/bin/java, else java on PATH)
#   MVN                    maven binary                                (default mvn)
#
# Files in $KAFKA_DATA_DIR: server.properties (rendered from server.properties.template),
# broker.log (previous run: broker.log.prev), broker.pid, kraft/ (metadata + topic data),
# and for sasl_ssl: ca.pem, tls/ (CA key, broker keystore, truststore).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
die() {
	echo "kafka.sh: $*" >&2
	exit 1
}

KAFKA_PORT=${KAFKA_PORT:-9092}
is_uint "$KAFKA_PORT" || die "KAFKA_PORT must be a port number, got '$KAFKA_PORT'"
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_SASL_SSL_PORT=${KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 2))}
is_uint "$KAFKA_CONTROLLER_PORT" || die "KAFKA_CONTROLLER_PORT must be a port number"
is_uint "$KAFKA_SASL_SSL_PORT" || die "KAFKA_SASL_SSL_PORT must be a port number"
KAFKA_SECURITY=${KAFKA_SECURITY:-plaintext}
case "$KAFKA_SECURITY" in
plaintext | sasl_ssl) ;;
*) die "KAFKA_SECURITY must be plaintext or sasl_ssl, got '$KAFKA_SECURITY'" ;;
esac
KAFKA_SASL_USER=${KAFKA_SASL_USER:-rw}
KAFKA_SASL_PASSWORD=${KAFKA_SASL_PASSWORD:-rw-secret}
KAFKA_SSL_PASSWORD=${KAFKA_SSL_PASSWORD:-restrictwatch-dev}
KAFKA_DATA_DIR=${KAFKA_DATA_DIR:-$here/.data}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
is_uint "$KAFKA_START_TIMEOUT" || die "KAFKA_START_TIMEOUT must be a number of seconds"
is_uint "$KAFKA_STOP_TIMEOUT" || die "KAFKA_STOP_TIMEOUT must be a number of seconds"
if [ -z "${JAVA:-}" ]; then
	if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi
fi
MVN=${MVN:-mvn}

lib_dir=$here/.lib
# Absolute data dir (it ends up in java arguments and config paths).
case "$KAFKA_DATA_DIR" in
/*) data_dir=$KAFKA_DATA_DIR ;;
*) data_dir=$(pwd)/$KAFKA_DATA_DIR ;;
esac
data_dir=${data_dir%/}
# The worker's RW_STATE_DIR (default state, relative to where it runs): cleared by reset.
case "${RW_STATE_DIR:-state}" in
/*) worker_state_dir=${RW_STATE_DIR} ;;
*) worker_state_dir=$(pwd)/${RW_STATE_DIR:-state} ;;
esac
worker_state_dir=${worker_state_dir%/}
conf=$data_dir/server.properties
pid_file=$data_dir/broker.pid
log_file=$data_dir/broker.log
kraft_dir=$data_dir/kraft
tls_dir=$data_dir/tls
marker=$data_dir/.restrictwatch-kafka

log() { echo "kafka.sh: $*"; }

# ---------------------------------------------------------------- jars

pom_stamp() { cksum <"$here/pom.xml" | cut -d' ' -f1,2; }

fetch_jars() {
	command -v "$MVN" >/dev/null 2>&1 || die "maven ('$MVN') not found; install maven or set MVN"
	mkdir -p "$here"
	exec 9>"$here/.lib.lock"
	if command -v flock >/dev/null 2>&1; then flock 9; fi
	local want
	want=$(pom_stamp)
	if [ -f "$lib_dir/.stamp" ] && [ "$(cat "$lib_dir/.stamp")" = "$want" ]; then
		exec 9>&-
		return 0
	fi
	log "downloading Kafka jars from Maven Central into ${lib_dir#"$here"/} ..."
	local tmp=$here/.lib.tmp.$$ out
	rm -rf "$tmp"
	if ! out=$("$MVN" -q -B -f "$here/pom.xml" dependency:copy-dependencies \
		-DoutputDirectory="$tmp" -DincludeScope=runtime 2>&1); then
		rm -rf "$tmp"
		printf '%s\n' "$out" | tail -n 40 >&2
		die "maven could not resolve the Kafka jars"
	fi
	ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "maven ran but no kafka_2.13 jar arrived in $tmp"
	printf '%s\n' "$want" >"$tmp/.stamp"
	rm -rf "$lib_dir"
	mv "$tmp" "$lib_dir"
	exec 9>&-
	log "jars ready: $(find "$lib_dir" -name '*.jar' | wc -l | tr -d ' ') files"
}

kafka_version() {
	local j
	for j in "$lib_dir"/kafka_2.13-*.jar; do
		j=${j##*/kafka_2.13-}
		echo "${j%.jar}"
		return 0
	done
	echo unknown
}

# ---------------------------------------------------------------- processes

# Pid of our broker for this data dir, or nothing.
broker_pid() {
	[ -f "$pid_file" ] || return 0
	local pid args
	pid=$(cat "$pid_file" 2>/dev/null || true)
	is_uint "$pid" || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	if [ -r "/proc/$pid/cmdline" ]; then
		args=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	else
		args=$(ps -o args= -p "$pid" 2>/dev/null || true)
	fi
	case "$args" in
	*kafka.Kafka*"$conf"*) echo "$pid" ;;
	*) ;; # pid recycled by an unrelated process
	esac
}

port_in_use() {
	# Something accepts connections on 127.0.0.1:$1.
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

run_tool() {
	# Run a Kafka CLI class with a small, quick-starting JVM; logs WARN+ to stderr.
	"$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$data_dir/tools-log4j2.properties" \
		-cp "$lib_dir/*" "$@"
}

log_tail() {
	if [ -f "$log_file" ]; then
		echo "----- last 60 lines of $log_file -----" >&2
		tail -n 60 "$log_file" >&2
		echo "-----" >&2
	fi
}

# ---------------------------------------------------------------- config

write_log4j_configs() {
	cat >"$data_dir/log4j2.properties" <<'EOF'
# Broker logging (written by kafka.sh): everything to stdout, which kafka.sh sends to broker.log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
	cat >"$data_dir/tools-log4j2.properties" <<'EOF'
# Logging for Kafka CLI tools run by kafka.sh: warnings and errors to stderr.
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

make_tls() {
	# Self-signed CA + broker key pair for 127.0.0.1/localhost, once per data dir.
	if [ -f "$tls_dir/broker.keystore.p12" ] && [ -f "$tls_dir/truststore.p12" ] && [ -f "$data_dir/ca.pem" ]; then
		return 0
	fi
	command -v openssl >/dev/null 2>&1 || die "openssl is needed for KAFKA_SECURITY=sasl_ssl"
	command -v keytool >/dev/null 2>&1 || die "keytool (JDK) is needed for KAFKA_SECURITY=sasl_ssl"
	log "generating self-signed CA and broker keystore in ${tls_dir}"
	rm -rf "$tls_dir"
	mkdir -p "$tls_dir"
	chmod 700 "$tls_dir"
	(
		cd "$tls_dir"
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
			-subj "/CN=restrictwatch local Kafka CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" \
			-keyout ca.key -out ca.pem 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
			-keyout broker.key -out broker.csr 2>/dev/null
		cat >broker.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF
		openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-days 3650 -sha256 -extfile broker.ext -out broker.crt 2>/dev/null
		openssl pkcs12 -export -name broker -in broker.crt -inkey broker.key -certfile ca.pem \
			-passout "pass:$KAFKA_SSL_PASSWORD" -out broker.keystore.p12
		keytool -importcert -noprompt -alias restrictwatch-ca -file ca.pem \
			-keystore truststore.p12 -storetype PKCS12 -storepass "$KAFKA_SSL_PASSWORD" >/dev/null 2>&1
		rm -f broker.csr broker.ext ca.srl
	)
	cp "$tls_dir/ca.pem" "$data_dir/ca.pem"
}

render_config() {
	local listeners advertised protomap security line out
	listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
	advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
	protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	security="# KAFKA_SECURITY=plaintext: no SASL_SSL listener."
	if [ "$KAFKA_SECURITY" = sasl_ssl ]; then
		listeners="$listeners,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT"
		advertised="$advertised,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT"
		protomap="$protomap,SASL_SSL:SASL_SSL"
		security="# KAFKA_SECURITY=sasl_ssl: SCRAM-SHA-512 over TLS on port $KAFKA_SASL_SSL_PORT.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$tls_dir/broker.keystore.p12
listener.name.sasl_ssl.ssl.keystore.password=$KAFKA_SSL_PASSWORD
listener.name.sasl_ssl.ssl.key.password=$KAFKA_SSL_PASSWORD
listener.name.sasl_ssl.ssl.truststore.type=PKCS12
listener.name.sasl_ssl.ssl.truststore.location=$tls_dir/truststore.p12
listener.name.sasl_ssl.ssl.truststore.password=$KAFKA_SSL_PASSWORD
listener.name.sasl_ssl.ssl.client.auth=none"
	fi
	out=$conf.tmp.$$
	: >"$out"
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line//@LISTENERS@/$listeners}
		line=${line//@ADVERTISED_LISTENERS@/$advertised}
		line=${line//@PROTOCOL_MAP@/$protomap}
		line=${line//@CONTROLLER_PORT@/$KAFKA_CONTROLLER_PORT}
		line=${line//@LOG_DIR@/$kraft_dir}
		line=${line//@SECURITY_CONFIG@/$security}
		printf '%s\n' "$line" >>"$out"
	done <"$here/server.properties.template"
	if grep -v '^#' "$out" | grep -q '@[A-Z_][A-Z_]*@'; then
		rm -f "$out"
		die "unreplaced placeholder in server.properties.template"
	fi
	chmod 600 "$out"
	mv "$out" "$conf"
}

format_storage() {
	if [ -f "$kraft_dir/meta.properties" ]; then
		return 0
	fi
	local cluster_id
	if [ -s "$data_dir/cluster.id" ]; then
		cluster_id=$(cat "$data_dir/cluster.id")
	else
		cluster_id=$(run_tool kafka.tools.StorageTool random-uuid | tail -n 1)
		printf '%s\n' "$cluster_id" >"$data_dir/cluster.id"
	fi
	log "formatting storage (cluster id $cluster_id)"
	local args=(format --standalone -t "$cluster_id" -c "$conf")
	if [ "$KAFKA_SECURITY" = sasl_ssl ]; then
		args+=(--add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]")
	fi
	run_tool kafka.tools.StorageTool "${args[@]}" >/dev/null ||
		die "kafka.tools.StorageTool format failed"
	if [ "$KAFKA_SECURITY" = sasl_ssl ]; then
		scram_fingerprint >"$data_dir/scram.applied"
	fi
}

scram_fingerprint() { printf '%s\n%s\n' "$KAFKA_SASL_USER" "$KAFKA_SASL_PASSWORD" | cksum; }

ensure_scram_user() {
	# Storage formatted earlier without this user/password (e.g. first run was plaintext):
	# upsert the SCRAM credential through the running broker.
	[ "$KAFKA_SECURITY" = sasl_ssl ] || return 0
	if [ -f "$data_dir/scram.applied" ] && [ "$(cat "$data_dir/scram.applied")" = "$(scram_fingerprint)" ]; then
		return 0
	fi
	log "adding SCRAM-SHA-512 credentials for user '$KAFKA_SASL_USER'"
	run_tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
		--alter --entity-type users --entity-name "$KAFKA_SASL_USER" \
		--add-config "SCRAM-SHA-512=[password=$KAFKA_SASL_PASSWORD]" >/dev/null ||
		die "could not create SCRAM credentials"
	scram_fingerprint >"$data_dir/scram.applied"
}

# ---------------------------------------------------------------- commands

cmd_up() {
	local pid
	pid=$(broker_pid)
	if [ -n "$pid" ]; then
		log "already running (pid $pid, data dir $data_dir)"
		print_listeners
		return 0
	fi
	command -v "$JAVA" >/dev/null 2>&1 || die "java ('$JAVA') not found; Java 17+ is required"
	local started=$SECONDS port
	fetch_jars
	for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
		port_in_use "$port" && die "port 127.0.0.1:$port is already in use by another process"
	done
	if [ "$KAFKA_SECURITY" = sasl_ssl ] && port_in_use "$KAFKA_SASL_SSL_PORT"; then
		die "port 127.0.0.1:$KAFKA_SASL_SSL_PORT is already in use by another process"
	fi
	mkdir -p "$data_dir"
	: >"$marker"
	write_log4j_configs
	if [ "$KAFKA_SECURITY" = sasl_ssl ]; then make_tls; fi
	render_config
	format_storage

	[ -f "$log_file" ] && mv -f "$log_file" "$log_file.prev"
	local heap=()
	read -r -a heap <<<"$KAFKA_HEAP_OPTS"
	local launcher=()
	# New session: the broker must not die with the terminal/process group that ran `up`.
	if command -v setsid >/dev/null 2>&1; then launcher=(setsid); fi
	log "starting Kafka $(kafka_version) on 127.0.0.1:$KAFKA_PORT (data dir $data_dir)"
	nohup "${launcher[@]}" "$JAVA" "${heap[@]}" \
		-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
		-Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$data_dir/log4j2.properties" \
		-Dkafka.logs.dir="$data_dir" \
		-cp "$lib_dir/*" kafka.Kafka "$conf" >"$log_file" 2>&1 </dev/null &
	pid=$!
	printf '%s\n' "$pid" >"$pid_file"

	# Ready = process alive, log says started, port accepts connections, and an admin
	# client can list topics through it.
	local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pid_file"
			log_tail
			die "broker process exited during startup"
		fi
		if grep -q 'Kafka Server started' "$log_file" 2>/dev/null && port_in_use "$KAFKA_PORT"; then
			break
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			log_tail
			cmd_down >/dev/null 2>&1 || true
			die "broker not ready after ${KAFKA_START_TIMEOUT}s"
		fi
		sleep 0.5
	done
	if ! run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
		--list >/dev/null; then
		log_tail
		cmd_down >/dev/null 2>&1 || true
		die "broker started but does not answer admin requests"
	fi
	ensure_scram_user
	if [ "$KAFKA_SECURITY" = sasl_ssl ] && ! port_in_use "$KAFKA_SASL_SSL_PORT"; then
		log_tail
		cmd_down >/dev/null 2>&1 || true
		die "SASL_SSL listener on 127.0.0.1:$KAFKA_SASL_SSL_PORT is not accepting connections"
	fi
	log "ready in $((SECONDS - started))s (pid $pid)"
	print_listeners
}

print_listeners() {
	local l
	l=$(grep '^advertised.listeners=' "$conf" 2>/dev/null | cut -d= -f2- || true)
	echo "  listeners: ${l:-unknown}"
	echo "  log:       $log_file"
	if [ -f "$data_dir/ca.pem" ] && grep -q 'SASL_SSL://' "$conf" 2>/dev/null; then
		echo "  ca cert:   $data_dir/ca.pem  (SCRAM-SHA-512 user from KAFKA_SASL_USER, default rw)"
	fi
}

cmd_down() {
	local pid
	pid=$(broker_pid)
	if [ -z "$pid" ]; then
		rm -f "$pid_file"
		log "not running"
		return 0
	fi
	log "stopping broker (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "still alive after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	rm -f "$pid_file"
	log "stopped"
}

cmd_status() {
	local pid
	pid=$(broker_pid)
	if [ -n "$pid" ]; then
		log "running (pid $pid, Kafka $(kafka_version), data dir $data_dir)"
		print_listeners
		return 0
	fi
	log "not running (data dir $data_dir)"
	return 3
}

cmd_reset() {
	cmd_down
	if [ ! -e "$data_dir" ]; then
		log "nothing to delete at $data_dir"
		reset_worker_state
		return 0
	fi
	# Only delete directories this script created.
	[ -f "$marker" ] || die "refusing to delete $data_dir: it was not created by kafka.sh (no ${marker##*/})"
	rm -rf "$data_dir"
	log "deleted $data_dir"
	reset_worker_state
}

reset_worker_state() {
	# The worker's local table store belongs to the topics just deleted: a store kept would be
	# ahead of the new changelog. Only a directory a worker marked is deleted.
	local state=$worker_state_dir
	if [ ! -e "$state" ]; then
		return 0
	fi
	if [ ! -f "$state/.restrictwatch-state" ]; then
		log "left $state alone: no .restrictwatch-state in it (not a worker's state directory)"
		return 0
	fi
	rm -rf "$state"
	log "deleted the worker state $state"
}

cmd_logs() {
	[ -f "$log_file" ] || die "no log at $log_file"
	tail -n 100 "$log_file"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
restart)
	cmd_down
	cmd_up
	;;
status) cmd_status ;;
reset) cmd_reset ;;
fetch) fetch_jars ;;
logs) cmd_logs ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
