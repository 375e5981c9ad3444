"""X11 steps the tray test needs that xdotool 3.2016 lacks.

  python3 e2e/x11.py close NAME    ask the window titled NAME to close, as a window manager's
                                   close button does (a WM_DELETE_WINDOW client message)
  python3 e2e/x11.py visible NAME  print "yes" if a window titled NAME is mapped, else "no"
  python3 e2e/x11.py pids CLASS    print the pids (_NET_WM_PID) of the windows whose WM_CLASS
                                   names CLASS, one a line (the harness's check for leftovers)
"""
import sys

from Xlib import X, display, protocol


def windows(d, name=None, wm_class=None):
    found = []

    def walk(w):
        try:
            if name is not None and w.get_wm_name() == name:
                found.append(w)
            if wm_class is not None and wm_class.lower() in [c.lower() for c in (w.get_wm_class() or ())]:
                found.append(w)
            for child in w.query_tree().children:
                walk(child)
        except Exception:
            pass

    walk(d.screen().root)
    return found


def main():
    action, name = sys.argv[1], sys.argv[2]
    d = display.Display()
    if action == "pids":
        pid_atom = d.intern_atom("_NET_WM_PID")
        pids = set()
        for w in windows(d, wm_class=name):
            prop = w.get_full_property(pid_atom, X.AnyPropertyType)
            if prop and len(prop.value):
                pids.add(int(prop.value[0]))
        print("\n".join(str(p) for p in sorted(pids)))
        return
    targets = windows(d, name)
    if action == "visible":
        print("yes" if any(w.get_attributes().map_state == X.IsViewable for w in targets) else "no")
        return
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    for w in targets:
        event = protocol.event.ClientMessage(window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
        w.send_event(event, event_mask=X.NoEventMask)
    d.flush()
    if not targets:
        sys.exit(f"no window titled {name!r}")


if __name__ == "__main__":
    main()
