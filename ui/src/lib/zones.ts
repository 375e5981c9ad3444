// The world's time zones for a picker: IANA names (what the core and Twitch's schedule take),
// each with its offset today, the computer's own zone first.
import type { PickerOption } from "./Picker.svelte";

export const localZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** "UTC+1", "UTC−4:30" now in `zone` ("UTC" itself for none). */
function offsetNow(zone: string): string {
  try {
    const part = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "shortOffset" })
      .formatToParts(new Date())
      .find((p) => p.type === "timeZoneName")?.value;
    return (part ?? "").replace("GMT", "UTC").replace("-", "−") || "UTC";
  } catch {
    return "";
  }
}

export function zoneOptions(): PickerOption[] {
  // Older webviews lack supportedValuesOf: the computer's zone and UTC still work.
  const intl = Intl as unknown as { supportedValuesOf?: (key: "timeZone") => string[] };
  const all = intl.supportedValuesOf?.("timeZone") ?? [];
  const local = localZone();
  const names = [local, ...["UTC", ...all].filter((z) => z !== local)];
  return [...new Set(names)].map((zone) => ({
    value: zone,
    label: zone.replaceAll("_", " "),
    detail: zone === local ? `${offsetNow(zone)} · this computer` : offsetNow(zone),
  }));
}
