// Keyboard shortcuts that act in a tab the user may not be on: the dashboard switches tabs and
// raises a request here; the tab (already shown, or just mounted) takes it and acts.
class Requests {
  /** Ctrl+L: open the Go live dialog. */
  goLive = $state(false);
  /** Ctrl+O: pick videos to import. */
  importVideos = $state(false);
}

export const requests = new Requests();
