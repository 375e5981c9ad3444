"""A drag source offering files the way a file manager does (text/uri-list), for the e2e test of
dropping files onto the window. Run with the system python3 (Debian's python3-gi):

  /usr/bin/python3 e2e/drag-source.py X Y FILE...

Shows a 120x120 window at (X, Y) (without a window manager windows open where asked) and prints
"ready" once it is on screen; xdotool then presses on it, drags into the app and releases.
"""
import sys
from pathlib import Path

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402


def main():
    x, y, files = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    uris = [Path(f).resolve().as_uri() for f in files]
    window = Gtk.Window(title="Twitcher drag source")
    window.set_default_size(120, 120)
    window.move(x, y)
    box = Gtk.EventBox()
    box.add(Gtk.Label(label=f"{len(uris)} files"))
    box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [Gtk.TargetEntry.new("text/uri-list", 0, 0)], Gdk.DragAction.COPY)
    box.connect("drag-data-get", lambda _w, _ctx, data, _info, _time: data.set_uris(uris))
    box.connect("drag-end", lambda *_: GLib.timeout_add(500, Gtk.main_quit))
    window.add(box)
    window.connect("destroy", Gtk.main_quit)
    window.connect("map-event", lambda *_: print("ready", flush=True))
    window.show_all()
    Gtk.main()


if __name__ == "__main__":
    main()
