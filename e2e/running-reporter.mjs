// A node:test reporter that writes one line as each test file and test starts and ends, so that
// when the end-to-end stage passes its time limit scripts/test.sh can say what was running.
// `test:dequeue` is the moment a test (or a file) begins, hooks included; `test:start` would only
// arrive once a file's process reports it.
export default async function* running(source) {
  for await (const event of source) {
    const where = event.data?.file && event.data.file !== event.data.name ? `${event.data.file} › ` : "";
    if (event.type === "test:dequeue") yield `start ${where}${event.data.name}\n`;
    if (event.type === "test:pass") yield `pass  ${where}${event.data.name}\n`;
    if (event.type === "test:fail") yield `fail  ${where}${event.data.name}\n`;
  }
}
