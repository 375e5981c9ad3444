// Field checks the window runs as a person types, so a mistake shows beside its field at once
// instead of one refusal at a time after Save. They mirror the core's rules (accounts.rs,
// ingest.rs, text.rs), which still decide: a value these pass and the core refuses shows the
// core's error. Each returns the sentence to show, or null when the value is fine.

/** A display name: 1 to `max` characters, no control characters. */
export function checkName(value: string, max = 64): string | null {
  if (!value.trim()) return "Give it a name.";
  if ([...value.trim()].length > max) return `At most ${max} characters.`;
  if (/[\u0000-\u001f\u007f]/.test(value)) return "No line breaks or control characters.";
  return null;
}

/** Twitch's numeric user id, when given. */
export function checkChannelId(value: string, required: boolean): string | null {
  const v = value.trim();
  if (!v) return required ? "Twitch's numeric channel id is needed here." : null;
  if (!/^\d{1,20}$/.test(v)) return "Only digits: Twitch's numeric channel id (not the channel's name).";
  return null;
}

/** A Twitch user name, when given. */
export function checkLogin(value: string): string | null {
  const v = value.trim();
  if (!v) return null;
  if (!/^[A-Za-z0-9_]{1,25}$/.test(v)) return "A Twitch user name: up to 25 letters, digits or underscores.";
  return null;
}

/** A stream key as Twitch's dashboard shows it; empty is fine where the stored one is kept. */
export function checkStreamKey(value: string, required: boolean): string | null {
  const v = value.trim();
  if (!v) return required ? "Paste the stream key from Twitch's Creator Dashboard → Settings → Stream." : null;
  if (v.length < 8 || v.length > 256) return "A stream key is 8 to 256 characters: copy it again from Twitch.";
  if (/[\s/?]/.test(v)) return "A stream key has no spaces, '/' or '?': copy only the key, not the server.";
  return null;
}

/** A custom ingest server: rtmp:// or rtmps://, a host, one app segment, no key in it. */
export function checkIngestUrl(value: string): string | null {
  const v = value.trim();
  if (!v) return "Type the server's address, such as rtmps://host/app.";
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return "Not an address: it looks like rtmps://host/app.";
  }
  if (url.protocol !== "rtmp:" && url.protocol !== "rtmps:") return "It starts with rtmp:// or rtmps://.";
  if (!url.hostname) return "The address needs a host name.";
  if (url.username || url.password || url.search || url.hash) return "Only the server: no user, password or '?…' in it.";
  if (url.pathname.replace(/^\/|\/$/g, "").split("/").filter(Boolean).length > 1) {
    return "Only the server, without the stream key: the key goes in its own field.";
  }
  return null;
}

/** A loudness target in LUFS, as the core takes it. */
export function checkLufs(value: string): string | null {
  if (value.trim() === "") return "Type a number, such as −16.";
  const n = Number(value.replace("−", "-"));
  if (!Number.isFinite(n)) return "Type a number, such as −16.";
  if (n < -70 || n > -5) return "Between −70 and −5 LUFS (−16 is usual).";
  return null;
}

/** Twitch's tags, comma-separated: at most 10, each 1 to 25 letters or digits (text.rs). */
export function checkTags(text: string): string | null {
  const tags = text.split(",").map((t) => t.trim()).filter(Boolean);
  if (tags.length > 10) return `At most 10 tags (there are ${tags.length}).`;
  const bad = tags.find((t) => !/^[\p{L}\p{N}]{1,25}$/u.test(t));
  return bad === undefined ? null : `“${bad}” is not a tag Twitch takes: 1 to 25 letters or digits, no spaces.`;
}

export type QualityFields = { width: number; height: number; fps: number; video_bitrate_k: number };

/** What Twitch takes (model/stream.rs Quality::validate), field by field. */
export function checkQuality(q: QualityFields): { size: string | null; fps: string | null; kbps: string | null } {
  const whole = (n: unknown) => typeof n === "number" && Number.isInteger(n);
  const evenIn = (n: number, lo: number, hi: number) => whole(n) && n >= lo && n <= hi && n % 2 === 0;
  return {
    size: evenIn(q.width, 160, 3840) && evenIn(q.height, 90, 2160) ? null : "Width and height are even numbers, from 160×90 to 3840×2160.",
    fps: whole(q.fps) && q.fps >= 1 && q.fps <= 60 ? null : "1 to 60 frames a second.",
    kbps: whole(q.video_bitrate_k) && q.video_bitrate_k >= 300 && q.video_bitrate_k <= 6000 ? null : "300 to 6000 kbps (Twitch's most is 6000).",
  };
}
