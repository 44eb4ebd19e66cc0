// keyless console: the live decision stream and the playground's mode
// switch. Every value from the server is set as text (textContent), never
// as markup: claims are attacker-controlled.
"use strict";

function liveStream(table) {
  var feed = table.getAttribute("data-feed");
  var body = table.tBodies[0];
  var status = document.getElementById("live-status");
  var known = {};
  Array.prototype.forEach.call(body.rows, function (row) { known[row.getAttribute("data-id")] = true; });

  function cell(row, text, cls) {
    var td = row.insertCell(-1);
    if (cls) { td.className = cls; }
    td.textContent = text || "";
    return td;
  }

  function add(d) {
    var row = document.createElement("tr");
    row.className = d.Decision + " fresh";
    row.setAttribute("data-id", d.ID);
    var when = cell(row, "");
    var a = document.createElement("a");
    a.href = d.Link;
    var t = document.createElement("time");
    t.dateTime = d.Time;
    t.textContent = d.Time.replace("T", " ").replace(/\.\d+Z$/, "Z");
    a.appendChild(t);
    when.appendChild(a);
    var v = cell(row, "");
    var span = document.createElement("span");
    span.className = "verdict " + (d.Decision === "allow" ? "allow" : "deny");
    span.textContent = d.Decision;
    v.appendChild(span);
    cell(row, d.Action);
    cell(row, d.Role);
    cell(row, d.Subject, "sub");
    cell(row, d.Code);
    return row;
  }

  function poll() {
    fetch(feed, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (res) {
      if (res.status === 401) {
        status.textContent = "Signed out: the stream stopped.";
        return null;
      }
      if (!res.ok) { throw new Error("HTTP " + res.status); }
      return res.json();
    }).then(function (out) {
      if (!out) { return; }
      var fresh = out.decisions.filter(function (d) { return !known[d.ID]; });
      // The feed is newest first: insert the oldest new one first.
      for (var i = fresh.length - 1; i >= 0; i--) {
        known[fresh[i].ID] = true;
        body.insertBefore(add(fresh[i]), body.firstChild);
      }
      if (fresh.length) {
        var empty = document.getElementById("stream-empty");
        if (empty) { empty.remove(); }
        status.textContent = "Live: " + fresh.length + " new decision" + (fresh.length > 1 ? "s" : "") + " at " + new Date().toLocaleTimeString() + ".";
      }
      setTimeout(poll, 2000);
    }).catch(function () {
      status.textContent = "Live: the server did not answer; retrying.";
      setTimeout(poll, 5000);
    });
  }
  setTimeout(poll, 2000);
}

function playgroundModes(form) {
  var radios = form.querySelectorAll("input[name=mode]");
  function show() {
    var mode = form.querySelector("input[name=mode]:checked");
    var m = mode ? mode.value : "token";
    form.querySelector(".mode-token").hidden = m !== "token";
    form.querySelector(".mode-compose").hidden = m !== "compose";
  }
  Array.prototype.forEach.call(radios, function (r) { r.addEventListener("change", show); });
  show();
}

document.addEventListener("DOMContentLoaded", function () {
  var stream = document.getElementById("stream");
  if (stream && stream.getAttribute("data-feed")) { liveStream(stream); }
  var run = document.getElementById("run");
  if (run && run.form.querySelector("input[name=mode]")) { playgroundModes(run.form); }
});
