// Today's alerts pushed by the server (GET /alerts/stream, Server-Sent Events): each new
// alert goes on top of the table, written as text (never as HTML). Without JavaScript the
// page reloads itself every 30 s instead (<noscript> in today.html).
"use strict";
(function () {
  const table = document.getElementById("alerts");
  if (!table || !window.EventSource) {
    return;
  }
  const source = new EventSource("/alerts/stream?after=" + encodeURIComponent(table.dataset.after || "0"));
  source.addEventListener("alert", function (message) {
    const alert = JSON.parse(message.data);
    const row = document.createElement("tr");
    row.className = "pushed " + (alert.severity || "");
    for (const value of [alert.at || "-", alert.severity || "-", alert.alert, alert.text]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    }
    table.querySelector("tr").after(row);  // under the header: newest first
    for (const id of ["no-alerts", "stale"]) {
      const note = document.getElementById(id);
      if (note) {
        note.hidden = id === "no-alerts";
      }
    }
  });
})();
