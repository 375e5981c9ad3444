// Background jobs and live destinations as the window sees them, kept up to date from the core's events. One instance
// for the app: the Videos tab shows it, and it survives switching tabs.
import { events, type JobEvent, type StreamStatus } from "./bindings";

/** One point of a destination's health graph. */
export type HealthSample = { at: number; kbps: number; reconnects: number; state: string };

/** How far back the health graphs go. */
export const HISTORY_MS = 5 * 60 * 1000;

/** States in which a destination counts as on air (or about to be, or coming back). */
const ON_AIR = ["pending", "queued", "starting", "live", "reconnecting", "stopping"];

export type Failure = { stream_id: number; at: number; error: string | null };

export type OnAir = { channels: number; live: number; trouble: boolean; uptimeSec: number; kbps: number; nowPlaying: string | null };

class JobsStore {
  /** Jobs by id: running ones, and finished ones until dismissed. */
  byId: Record<number, JobEvent> = $state({});
  /** Bumped whenever the library changed, so lists know to reload. */
  libraryVersion = $state(0);
  /** The latest status of each destination, by stream id. */
  streams: Record<number, StreamStatus> = $state({});
  /** Bumped when a destination changes state, so stream lists know to reload. */
  streamsVersion = $state(0);
  /** When each destination entered its current state (ms), for "reconnecting · 0:34". */
  since: Record<number, number> = $state({});
  /** The time now, ticking once a second while anything runs (what "since" is read against). */
  now = $state(Date.now());
  /** Destinations that failed while this window ran, for the banner on every tab, until dismissed. */
  failures: Failure[] = $state([]);
  /** The last five minutes of each destination's bitrate, reconnects and state, by stream id. */
  history: Record<number, HealthSample[]> = $state({});
  #started = false;

  /** What is on air now (this window's destinations still running), for the header's strip. */
  get onAir(): OnAir {
    const running = Object.values(this.streams).filter((s) => ON_AIR.includes(s.state));
    const live = running.filter((s) => s.state === "live");
    return {
      channels: running.length,
      live: live.length,
      trouble: running.some((s) => s.state === "reconnecting"),
      uptimeSec: Math.max(0, ...live.map((s) => s.uptime_sec ?? 0)),
      kbps: live.reduce((sum, s) => sum + (s.bitrate_10s_kbps ?? s.bitrate_kbps ?? 0), 0),
      nowPlaying: running.find((s) => s.now_playing)?.now_playing ?? null,
    };
  }

  get list(): JobEvent[] {
    return Object.values(this.byId).sort((a, b) => a.job_id - b.job_id);
  }

  async start() {
    if (this.#started) return;
    this.#started = true;
    await events.coreEvent.listen(({ payload }) => {
      if (payload.type === "job") {
        const { type: _type, ...job } = payload;
        // Successful jobs leave the list by themselves; failures stay until dismissed.
        if (job.status === "succeeded" || job.status === "cancelled") {
          delete this.byId[job.job_id];
        } else {
          this.byId[job.job_id] = job;
        }
      } else if (payload.type === "videos_changed") {
        this.libraryVersion += 1;
      } else if (payload.type === "stream") {
        const { type: _type, ...status } = payload;
        const before = this.streams[status.stream_id]?.state;
        this.streams[status.stream_id] = status;
        if (before !== status.state) {
          this.streamsVersion += 1;
          this.since[status.stream_id] = Date.now();
        }
        this.now = Date.now();
        if (status.state === "failed" && before !== "failed") {
          this.failures.push({ stream_id: status.stream_id, at: Date.now(), error: status.error });
        }
        const now = Date.now();
        const samples = (this.history[status.stream_id] ?? []).filter((s) => now - s.at <= HISTORY_MS);
        samples.push({ at: now, kbps: status.bitrate_10s_kbps ?? status.bitrate_kbps ?? 0, reconnects: status.reconnects, state: status.state });
        this.history[status.stream_id] = samples;
      }
    });
  }

  /** Shows a file the core refused before queueing it, like a failed job. */
  addRefused(file: string, message: string) {
    const id = -Date.now() - Math.random();
    this.byId[id] = {
      job_id: id,
      kind: "import",
      profile_id: null,
      label: file,
      status: "failed",
      progress: 0,
      eta_sec: null,
      error: `${file}: ${message}`,
      video_id: null,
    };
  }

  dismiss(id: number) {
    delete this.byId[id];
  }
}

export const jobs = new JobsStore();
