#!/usr/bin/env python3
"""The soak's money and admin traffic (scripts/soak.sh): CHECK ... ID HOLD
then SETTLE COMMIT/CANCEL, charging CHECKs with COST, RECHARGE with fresh
payment ids, CONTRACT/LEDGER/INFO on the admin socket, and a new
connection every few dozen commands (churn). Runs until --seconds pass,
then checks Σ ledger = balance for every contract, and prints one JSON
line of counts. Exit 1 on any unexpected reply."""
import argparse, json, random, sys, time

import redis


def connect(path):
    return redis.Redis(unix_socket_path=path, socket_timeout=10, decode_responses=True)


def ledger_sum(admin, key):
    total = 0
    for entry in admin.execute_command("LEDGER", key):
        fields = dict(zip(entry[0::2], entry[1::2]))
        total += int(fields["amount"])
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--admin-socket", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--contracts", default="soak-a,soak-b")
    ap.add_argument("--churn", type=int, default=50, help="commands per connection")
    args = ap.parse_args()
    contracts = args.contracts.split(",")
    rng = random.Random(7)
    counts = {"checks": 0, "holds": 0, "settles": 0, "recharges": 0, "admin": 0, "connections": 0,
              "denied": 0, "errors": 0}
    first_error = None
    deadline = time.monotonic() + args.seconds
    data = admin = None
    n = 0
    next_recharge = 0.0
    run = int(time.time())
    while time.monotonic() < deadline:
        if n % args.churn == 0:
            for c in (data, admin):
                if c is not None:
                    c.close()
            data, admin = connect(args.socket), connect(args.admin_socket)
            counts["connections"] += 2
        n += 1
        key = rng.choice(contracts)
        try:
            r = rng.random()
            if r < 0.4:
                hold_id = f"h{run}-{n}"
                reply = data.execute_command("CHECK", key, "ID", hold_id, "HOLD", 5000)
                counts["holds"] += 1
                if int(reply[0]) == 1:
                    outcome = "COMMIT" if rng.random() < 0.7 else "CANCEL"
                    if int(data.execute_command("SETTLE", key, hold_id, outcome)) != 1:
                        raise RuntimeError(f"SETTLE {hold_id} found no hold")
                    counts["settles"] += 1
                else:
                    counts["denied"] += 1
            elif r < 0.9:
                reply = data.execute_command("CHECK", key, "COST", rng.randint(1, 3))
                counts["checks"] += 1
                counts["denied"] += int(reply[0]) != 1
            else:
                cmd = rng.choice([("CONTRACT", key), ("INFO",), ("LEDGER", key)])
                if cmd[0] == "LEDGER" and rng.random() < 0.8:
                    cmd = ("CONTRACT", key)  # LEDGER replies grow with the run: fewer of them
                admin.execute_command(*cmd)
                counts["admin"] += 1
            if time.monotonic() >= next_recharge:
                admin.execute_command("RECHARGE", key, 100000000, f"pay-{run}-{n}")
                counts["recharges"] += 1
                next_recharge = time.monotonic() + 2.0
        except Exception as e:  # noqa: BLE001 — every failure is counted and reported
            counts["errors"] += 1
            first_error = first_error or f"{type(e).__name__}: {e}"
            data = admin = None
            n = 0
    # Σ ledger = balance once the last debits are flushed (every sweep).
    admin = connect(args.admin_socket)
    mismatch = {}
    for key in contracts:
        for _ in range(50):
            fields = admin.execute_command("CONTRACT", key)
            info = dict(zip(fields[0::2], fields[1::2]))
            balance, total = int(info["balance"]), ledger_sum(admin, key)
            if balance == total:
                mismatch.pop(key, None)
                break
            mismatch[key] = {"balance": balance, "ledger": total}
            time.sleep(0.1)
    counts["ledger_mismatch"] = mismatch
    counts["first_error"] = first_error
    print(json.dumps(counts))
    return 1 if counts["errors"] or mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
