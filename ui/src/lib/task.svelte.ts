// One user action in flight: whether it is running and what went wrong, so forms do not each
// keep their own busy flag and error string around the same try/catch.
export class Task {
  busy = $state(false);
  /** The error as thrown (shown with ErrorNote: its plain sentence and Details), or "". */
  error = $state<unknown>("");

  /** Runs `action`; returns its value, or undefined after showing its error. */
  async run<T>(action: () => Promise<T>): Promise<T | undefined> {
    this.busy = true;
    this.error = "";
    try {
      return await action();
    } catch (e) {
      this.error = e;
      return undefined;
    } finally {
      this.busy = false;
    }
  }
}
