// Progressive enhancement: every page works without this file. With it, the tasks page refreshes its
// tables from the server while a task runs (so progress and ETA move), keeping any ticked box.
(function () {
  "use strict";
  const pollMs = Number(document.querySelector('meta[name="poll-ms"]')?.content || 1500);

  async function refreshTasks() {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const table of document.querySelectorAll("table.tasks")) {
      const next = fresh.getElementById(table.id);
      if (!next) continue;
      const ticked = new Set(
        [...table.querySelectorAll('input[name="confirm"]:checked')].map((box) => box.closest("tr")?.dataset.taskId)
      );
      table.tBodies[0].replaceWith(next.tBodies[0]);
      for (const row of table.querySelectorAll("tr.task")) {
        if (ticked.has(row.dataset.taskId)) {
          const box = row.querySelector('input[name="confirm"]');
          if (box) box.checked = true;
        }
      }
    }
  }

  function anyLive() {
    return document.querySelector('#running tr.task') !== null;
  }

  if (document.querySelector("table.tasks")) {
    const tick = async () => {
      try {
        await refreshTasks();
      } finally {
        window.setTimeout(tick, anyLive() ? pollMs : pollMs * 4);
      }
    };
    window.setTimeout(tick, pollMs);
  }
})();
