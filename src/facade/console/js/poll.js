// Live pages poll the API: one request at a time (the next only after the last answered),
// paused while the tab is hidden, stopped when the page is left.

/** Run `tick` now and every `ms` after it settles, until the returned stop is called.
 * @param {() => Promise<void>} tick
 * @param {number} ms
 * @returns {() => void} stop
 */
export function poll(tick, ms) {
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const run = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await tick(); } catch { /* the tick shows its own errors */ }
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  void run();
  return () => { stopped = true; clearTimeout(timer); };
}
