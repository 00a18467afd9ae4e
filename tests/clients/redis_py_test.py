#!/usr/bin/python3
"""redis-py (Debian python3-redis 4.3) against a running tollgated.

Usage: redis_py_test.py <data socket> <password>
The daemon runs tests/integration/clients_test.cc's config: contract
`partner:acme` (quota 2/day), key class `ip:*` (bucket of 5), password set.
Exit 0: every check passed; 77: redis-py is missing (skipped); else failed.
"""
import sys

try:
    import redis
except ImportError:
    print("SKIP: redis-py (python3-redis) is not installed")
    sys.exit(77)

sock, password = sys.argv[1], sys.argv[2]


def expect(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)


# Without AUTH every command is refused.
anon = redis.Redis(unix_socket_path=sock)
try:
    anon.ping()
    expect(False, "PING without AUTH was answered")
except redis.exceptions.AuthenticationError:
    pass
except redis.exceptions.ResponseError as e:
    expect("NOAUTH" in str(e), "NOAUTH expected, got %s" % e)
try:
    redis.Redis(unix_socket_path=sock, password="wrong").ping()
    expect(False, "a wrong password was accepted")
except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
    expect("WRONGPASS" in str(e) or "invalid" in str(e), "WRONGPASS expected, got %s" % e)

r = redis.Redis(unix_socket_path=sock, password=password, decode_responses=True)
expect(r.ping() is True, "PING after AUTH")

# The default pipeline is a transaction: MULTI, the CHECKs, EXEC.
pipe = r.pipeline()
pipe.execute_command("CHECK", "ip:1")
pipe.execute_command("CHECK", "partner:acme")
first = pipe.execute()
expect(len(first) == 2, "two replies: %r" % (first,))
expect(first[0][0] == 1 and first[0][1] == "OK", "ip allowed: %r" % (first,))
expect(first[1][0] == 1 and first[1][1] == "OK", "contract allowed: %r" % (first,))

# The contract's quota (2) cannot take 2 more: nothing is charged, the ip's
# CHECK answers ABORTED, the contract's QUOTA.
pipe = r.pipeline()
pipe.execute_command("CHECK", "ip:1")
pipe.execute_command("CHECK", "partner:acme", "COST", "2")
second = pipe.execute()
expect(second[0][0] == 0 and second[0][1] == "ABORTED", "ABORTED: %r" % (second,))
expect(second[1][0] == 0 and second[1][1] == "QUOTA", "QUOTA: %r" % (second,))
peek = r.execute_command("PEEK", "ip:1")
expect(peek[3] == 3, "ip kept its tokens (5 - 1 - this peek's 1): %r" % (peek,))

# A queued syntax error aborts the whole transaction (EXECABORT).
pipe = r.pipeline()
pipe.execute_command("CHECK", "ip:1")
pipe.execute_command("CHECK", "ip:1", "COST", "nope")
try:
    pipe.execute()
    expect(False, "EXECABORT expected")
except redis.exceptions.ResponseError as e:
    expect("EXECABORT" in str(e) or "COST" in str(e), "EXECABORT: %s" % e)
expect(r.execute_command("PEEK", "ip:1")[3] == 3, "nothing ran")

# A non-transactional pipeline still works.
pipe = r.pipeline(transaction=False)
pipe.execute_command("CHECK", "ip:2")
pipe.ping()
out = pipe.execute()
expect(out[0][1] == "OK" and out[1] is True, "plain pipeline: %r" % (out,))

# INFO parses: contract keys with ':' are escaped in values, names unique.
info = r.info("all")
expect("transactions" in info and info["transactions"] >= 2, "INFO stats: transactions")
expect(info["unknown_commands"] == 0, "unknown_commands %r" % info.get("unknown_commands"))
shadow = [v for k, v in info.items() if k.startswith("shadow_limit")]
expect(any(isinstance(v, dict) and v.get("contract") == "partner%3Aacme" for v in shadow),
       "shadow limit line parsed as fields: %r" % (shadow,))

r.select(0) if hasattr(r, "select") else r.execute_command("SELECT", "0")
expect(r.config_get("maxclients")["maxclients"] != "", "CONFIG GET maxclients")
expect(r.client_setname("py") is True and r.client_getname() == "py", "CLIENT SETNAME")

# HELLO 3 (redis-py 4.3 has no RESP3 parser: only the handshake's refusal
# of a wrong password and the RESP2 HELLO are checked here).
hello = r.execute_command("HELLO", "2", "AUTH", "default", password)
expect("tollgate" in hello, "HELLO 2 AUTH: %r" % (hello,))
print("OK")
