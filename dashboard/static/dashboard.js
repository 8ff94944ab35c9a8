// The dashboard's only script (Content-Security-Policy: script-src 'self').
// Every page works without it; it adds the live chart, the live progress of
// bulk actions, "select all" and confirmations.
"use strict";

(function () {
  function text(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = String(value);
  }

  function poll(url, intervalMs, onData) {
    var stopped = false;
    function tick() {
      if (stopped) return;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (data && onData(data) === false) stopped = true;
        })
        .catch(function () {})
        .then(function () { if (!stopped) setTimeout(tick, intervalMs); });
    }
    setTimeout(tick, intervalMs);
  }

  // The throughput chart: the server computes the drawing; set it.
  var chart = document.getElementById("throughput");
  if (chart) {
    poll(chart.dataset.src, Math.max(500, Number(chart.dataset.intervalMs) || 5000), function (c) {
      document.getElementById("chart-succeeded").setAttribute("points", c.succeeded_line);
      document.getElementById("chart-failed").setAttribute("points", c.failed_line);
      text("chart-ymax", c.y_max);
      text("chart-last-succeeded", c.last_succeeded);
      text("chart-last-failed", c.last_failed);
      text("chart-rate", c.succeeded_per_second);
      text("chart-total-succeeded", c.total_succeeded);
      text("chart-total-failed", c.total_failed);
      chart.dataset.updates = String((Number(chart.dataset.updates) || 0) + 1);
    });
  }

  // A bulk action's progress.
  var bulk = document.getElementById("bulk");
  if (bulk) {
    poll(bulk.dataset.src, 1000, function (s) {
      document.getElementById("bulk-bar").value = s.percent;
      text("bulk-done", s.done);
      text("bulk-failed", s.failed);
      text("bulk-estimate", s.estimate);
      text("bulk-state", s.running ? "Running" : "Finished");
      text("bulk-stopped", s.stopped || "");
      var list = document.getElementById("bulk-errors");
      list.textContent = "";
      (s.errors || []).forEach(function (e) {
        var li = document.createElement("li");
        li.className = "error";
        li.textContent = e;
        list.appendChild(li);
      });
      if (!s.running) {
        var stop = document.getElementById("bulk-cancel");
        if (stop) stop.remove();
        return false;
      }
    });
  }

  // "Select every job on this page".
  document.querySelectorAll("input.select-all").forEach(function (all) {
    all.addEventListener("change", function () {
      all.form.querySelectorAll('input[type=checkbox][name=id]').forEach(function (cb) { cb.checked = all.checked; });
    });
  });

  // Forms that ask before they change something.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  });
})();
