// What each of the core's error codes means to a creator, and what to do about it: the sentence
// the window shows. The core's own message — the technical detail, often naming FFmpeg, an OS
// error or a setting — goes behind "Details" (see ErrorNote.svelte). `null`: the core's message
// is already the creator's sentence (it names the field that is wrong), shown as it is.
//
// A Record over every code: a new code in the core fails `npm run ui:check` until it has a line.
import type { ErrorCode } from "./bindings";

const PLAIN: Record<ErrorCode, string | null> = {
  invalid_input: null,
  invalid_name: null,
  invalid_ingest: null,
  malformed_uuid: "That is not a profile UUID: it looks like 8-4-4-4-12 letters and digits, as shown when the profile was made.",
  unknown_plan: null,
  no_stream_key: "This account has no stream key: add it in Accounts (Edit), from Twitch's Creator Dashboard → Settings → Stream.",
  import_rejected: null,
  import_failed: "The file could not be imported: it may be damaged or not a video. Try exporting it again.",
  unauthorized: "You are signed out: sign in again with your profile's UUID.",
  unknown_profile: "No profile on this computer has that UUID: check it, or make a new profile.",
  no_active_profile: "You are signed out: sign in again with your profile's UUID.",
  not_admin: "Only an ADMIN of this Twitcher can do that.",
  plan_limit: null,
  registration_closed: "New profiles are closed here: ask the ADMIN for one.",
  login_throttled: "Too many sign-in attempts: wait a minute, then try again.",
  rate_limited: "Too many at once: wait a moment, or end one first.",
  request_timeout: "That took too long to arrive: try again.",
  wrong_host: "This server does not answer to that address: use the address its ADMIN gave you.",
  not_found: "It is not there any more: it may have been removed in another window.",
  method_not_allowed: "That is not something this server does.",
  account_not_found: "That account is not there any more: it may have been removed in another window.",
  video_not_found: "That video is not in your library any more: it may have been removed in another window.",
  stream_not_found: "That broadcast is not there any more: it may have ended or been removed.",
  playlist_not_found: "That playlist is not there any more: it may have been deleted in another window.",
  schedule_not_found: "That schedule is not there any more: it may have been deleted in another window.",
  duplicate_channel: "This channel is linked already: edit the account that has it instead.",
  video_in_use: null,
  duplicate_playlist: "A playlist has that name already: choose another name.",
  playlist_in_use: null,
  already_started: "It has started already, here or in another Twitcher on this computer.",
  broadcast_cancelled: "This broadcast was cancelled before its time.",
  not_retryable: "Only a channel that failed while its broadcast is still on air can be retried: start the broadcast again instead.",
  cancelled: "Cancelled.",
  too_large: null,
  stream_failed: "Some channels did not end normally: their log in Streams says why.",
  key_refused: "Twitch refused the stream key: copy it again from the Creator Dashboard (Settings → Stream) and save it in Accounts.",
  prepare_failed: "The video could not be made ready for Twitch: the file may be damaged. Try another copy of it.",
  source_unreadable: "The prepared video could not be read: it may have been moved or the disk may be failing. Start again to prepare it anew.",
  account_error: null,
  s3_not_configured: "Cloud storage is not set up: an ADMIN sets it in Settings → Storage.",
  s3_error: "Cloud storage did not answer as expected: check its settings in Settings → Storage, or try again later.",
  not_in_s3: "That file is not in cloud storage.",
  file_missing: "The video's file is missing from the disk: import it again.",
  disk_full: "The disk is full: free some space (Settings → Storage shows what Twitcher keeps), then try again.",
  io: "The disk could not be read or written: check that it is connected and has space.",
  key_missing: "The key that protects your stream keys is missing: restore it (see the README), or add the accounts' keys again.",
  key_mismatch: "Your stream keys were protected with another key than this computer's: restore the right key file or keyring.",
  keyring_unavailable: "The system keyring is not available: unlock it, or start Twitcher with a key file (see the README).",
  key_store: "The key that protects your stream keys could not be saved: check the keyring or the key file's folder.",
  secret_tampered: "A stored stream key was changed outside Twitcher and cannot be trusted: add the account's key again.",
  twitch_no_client_id: "Connect with Twitch is not set up on this computer: an ADMIN adds a Twitch application in Accounts.",
  twitch_unreachable: "Twitch could not be reached: check the internet connection and try again.",
  twitch_error: "Twitch answered with an error: try again in a moment.",
  twitch_missing_scope: "Twitch did not grant what this needs: connect the account with Twitch again.",
  twitch_rate_limited: "Twitch asks Twitcher to slow down: try again in a minute.",
  twitch_denied: "The connection was declined on Twitch.",
  twitch_code_expired: "The code expired before it was entered on Twitch: start Connect with Twitch again.",
  twitch_reconnect_needed: "Twitch no longer accepts this account's connection: connect it with Twitch again.",
  twitch_not_connected: "This account was added by hand: connect it with Twitch to let Twitcher do that.",
  database: "Twitcher's database could not be read or written: check the disk, then restart Twitcher.",
  config: null,
  logging: "Twitcher could not write its log: check the disk.",
  ffmpeg_missing: "FFmpeg is missing: install it (sudo apt install ffmpeg) and restart Twitcher.",
  internal: "Something went wrong inside Twitcher: try again; if it happens again, the log has the details.",
};

/** What to show for an error: the plain sentence, and the technical detail (or null). */
export function plain(code: ErrorCode, message: string): { text: string; details: string | null } {
  const sentence = PLAIN[code];
  if (sentence === null || sentence === undefined) return { text: capitalised(message), details: null };
  return { text: sentence, details: message && message !== sentence ? message : null };
}

/** The core's messages start lower-case (they are also CLI output); a sentence on screen does not. */
export function capitalised(message: string): string {
  return message ? message[0].toUpperCase() + message.slice(1) : message;
}

// A failed job (an import, a preparation) carries the core's message, not a code. The phrases
// below are the core's own (media/probe.rs); each gets the creator's sentence, and the part in
// FFmpeg's words goes behind "Details".
const JOB_PHRASES: [RegExp, string][] = [
  [/not a video file FFmpeg can read \((.*)\)$/s, "not a video Twitcher can play: it may be damaged, or in a format other than MP4, WebM, OGG, AVI, MOV, WMV or FLV."],
  [/the file is damaged \((.*)\)$/s, "the file is damaged: copy or export it again, then import that copy."],
  [/FFmpeg took longer than its limit of (\d+ s) on this file and was stopped: is it damaged\?$/s, "reading it took too long, so Twitcher stopped: the file may be damaged. Try another copy of it."],
];

/**
 * A failed job's message as a creator reads it, and FFmpeg's words as the details (or null).
 * Not capitalised: an import's message starts with the file's name, which is shown as it is.
 */
export function plainJobError(message: string): { text: string; details: string | null } {
  for (const [pattern, sentence] of JOB_PHRASES) {
    const found = pattern.exec(message);
    if (found) return { text: message.slice(0, found.index) + sentence, details: found[1] ?? null };
  }
  return { text: message, details: null };
}
