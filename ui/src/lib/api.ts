// Unwraps the generated commands' `{status, data | error}` results into values or thrown
// `CommandError`s, so screens can use try/catch and show `message`.
import type { ErrorBody, ErrorCode } from "./bindings";
import { capitalised, plain } from "./errors";

export class CommandError extends Error {
  /** One of the core's codes: a screen can branch on it and TypeScript checks the spelling. */
  readonly code: ErrorCode;
  constructor(body: ErrorBody) {
    super(body.message);
    this.code = body.code;
  }
}

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: ErrorBody };

export async function call<T>(result: Promise<Result<T>>): Promise<T> {
  const r = await result;
  if (r.status === "error") throw new CommandError(r.error);
  return r.data;
}

/** The sentence to show for an error: for the core's errors, the plain one for its code. */
export function messageOf(e: unknown): string {
  if (e instanceof CommandError) return plain(e.code, e.message).text;
  if (e instanceof Error) return capitalised(e.message);
  if (typeof e === "string") return e;
  return "Something went wrong.";
}

/** The technical detail behind an error's plain sentence (the core's own message), if any. */
export function detailsOf(e: unknown): string | null {
  return e instanceof CommandError ? plain(e.code, e.message).details : null;
}

/** "10 GB", "unlimited". */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "unlimited";
  const gb = bytes / 1024 ** 3;
  return gb >= 1 ? `${Math.round(gb)} GB` : `${Math.round(bytes / 1024 ** 2)} MB`;
}

/** Copies text; WebKitGTK may refuse the async Clipboard API outside secure contexts. */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("Copy is not available here: select the UUID and copy it by hand.");
  }
}
