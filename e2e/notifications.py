"""A stand-in desktop notification server for the end-to-end tests: owns
org.freedesktop.Notifications on the session bus (the test's private one) and writes each Notify
call as a JSON line {"app", "summary", "body"} to the file given. Prints "ready" once it owns the
name.

  python3 e2e/notifications.py OUT.jsonl
"""
import json
import sys

from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"


def main():
    out = sys.argv[1]
    conn = open_dbus_connection(bus="SESSION")
    # 4 = DBUS_NAME_FLAG_DO_NOT_QUEUE; 1 = we are the primary owner.
    owned = conn.send_and_get_reply(message_bus.RequestName(NAME, 4)).body[0]
    if owned != 1:
        sys.exit(f"{NAME} is taken on this bus")
    print("ready", flush=True)
    next_id = 1
    while True:
        msg = conn.receive()
        if msg.header.message_type != MessageType.method_call:
            continue
        member = msg.header.fields.get(HeaderFields.member)
        if member == "Notify":
            app_name, _replaces, _icon, summary, body = msg.body[:5]
            with open(out, "a") as f:
                f.write(json.dumps({"app": app_name, "summary": summary, "body": body}) + "\n")
            conn.send(new_method_return(msg, "u", (next_id,)))
            next_id += 1
        elif member == "GetServerInformation":
            conn.send(new_method_return(msg, "ssss", ("twitcher-test", "twitcher", "1.0", "1.2")))
        elif member == "GetCapabilities":
            conn.send(new_method_return(msg, "as", (["body"],)))
        else:
            conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"no {member}",)))


if __name__ == "__main__":
    main()
