// ripcord dashboard: a running job's page follows it live (Server-Sent Events from
// /jobs/ID/events) and reloads to show the result when it ends.
"use strict";
(function () {
  const box = document.querySelector("[data-job-events]");
  if (!box || !window.EventSource) return;
  const $ = (id) => document.getElementById(id);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  function bytes(n) {
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return i ? n.toFixed(1) + " " + units[i] : n + " B";
  }
  function show(s) {
    box.dataset.events = String(Number(box.dataset.events || 0) + 1);
    box.dataset.status = s.status;
    const badge = document.querySelector("#job-status .badge");
    if (badge) badge.textContent = s.status;
    const p = s.progress;
    if (p) {
      $("job-phase").textContent = "phase " + s.phase + (p.finished ? " (done)" : "");
      const bar = $("job-bar");
      if (p.total) { bar.max = p.total; bar.value = Math.min(p.bytes, p.total); }
      else { bar.removeAttribute("value"); }  // indeterminate: the total is not known
      $("job-counts").textContent = p.items + " files, " + bytes(p.bytes) +
        (p.total ? " of " + bytes(p.total) : "");
      $("job-current").textContent = p.current;  // textContent: a file name stays text
    }
    $("job-log").textContent = s.log.join("\n");
  }
  const events = new EventSource(box.dataset.jobEvents);
  events.onmessage = (e) => show(JSON.parse(e.data));
  events.addEventListener("done", () => { events.close(); window.location.reload(); });
})();
