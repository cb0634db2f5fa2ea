// taskbridge console: small progressive enhancements. Every page works without it.
"use strict";

document.addEventListener("click", function (event) {
  var target = event.target instanceof Element ? event.target : null;
  if (!target) return;

  // <button data-copy="#id">: copies the text of the element named.
  var copy = target.closest("[data-copy]");
  if (copy) {
    var source = document.querySelector(copy.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      var text = source.value !== undefined ? source.value : source.textContent;
      navigator.clipboard.writeText(text.trim()).then(function () {
        var label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = label; }, 1500);
      });
    }
    event.preventDefault();
  }
});

// <form data-confirm="question">: asks before submitting.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// The inbox's first page (<tbody data-feed="…">) follows new requests: every few seconds it
// asks the feed for the same rows again, adds the new ones on top, replaces those whose
// outcome changed (data-version) and drops those that no longer match the filters. A row
// holding the keyboard's focus is left alone until the focus moves on.
(function () {
  var rows = document.querySelector("tbody[data-feed]");
  if (!rows || !window.fetch || !window.DOMParser) return;
  var live = document.getElementById("inbox-live");
  var table = document.getElementById("inbox-table");
  var empty = document.getElementById("inbox-empty");
  var every = 5000;
  var timer = null;

  function say(text) { if (live) live.textContent = text; }
  function focused(row) { return row.contains(document.activeElement); }

  function merge(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").querySelectorAll("tbody > tr[data-id]");
    var byId = {};
    Array.prototype.forEach.call(rows.querySelectorAll("tr[data-id]"), function (row) {
      byId[row.getAttribute("data-id")] = row;
    });
    var oldest = fresh.length ? fresh[fresh.length - 1].getAttribute("data-id") : null;
    var seen = {};
    var added = 0;
    var before = rows.firstElementChild;
    Array.prototype.forEach.call(fresh, function (row) {
      var id = row.getAttribute("data-id");
      seen[id] = true;
      var shown = byId[id];
      var imported = document.importNode(row, true);
      if (!shown) {
        imported.classList.add("fresh");
        rows.insertBefore(imported, before);
        added += 1;
      } else {
        if (shown.getAttribute("data-version") !== row.getAttribute("data-version") && !focused(shown)) {
          rows.replaceChild(imported, shown);
          shown = imported;
        }
        before = shown.nextElementSibling;
      }
    });
    // Rows within the feed's span that it no longer has left the filter (decided, retried).
    Object.keys(byId).forEach(function (id) {
      var row = byId[id];
      if (!seen[id] && row.parentNode && (oldest === null || id > oldest) && !focused(row)) {
        rows.removeChild(row);
      }
    });
    var any = rows.querySelector("tr[data-id]") !== null;
    if (table) table.hidden = !any;
    if (empty) empty.hidden = any;
    if (added) say(added === 1 ? "1 new request." : added + " new requests.");
  }

  function poll() {
    if (document.hidden) return;
    fetch(rows.getAttribute("data-feed"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (res) {
        if (res.status === 401) {
          clearInterval(timer);
          say("Your session ended: sign in again to see new requests.");
          return null;
        }
        return res.ok ? res.text() : null;
      })
      .then(function (html) { if (html) merge(html); })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }

  timer = setInterval(poll, every);
})();

// Keyboard shortcuts of the request page: a key (A, M, D) moves the focus into the form
// marked data-shortcut with it; typing in a field, or with a modifier held, is left alone.
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  var target = event.target;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  var key = (event.key || "").toLowerCase();
  if (key.length !== 1) return;
  var form = document.querySelector('form[data-shortcut="' + key + '"]');
  if (!form) return;
  var control = form.querySelector("input:checked:not([type=hidden])") ||
    form.querySelector("input:not([type=hidden]), select, textarea, button");
  if (!control) return;
  event.preventDefault();
  form.scrollIntoView({ block: "start" });
  control.focus();
});

// <… data-reload-after="ms">: a page about work still going on (a sync run) reloads itself
// until the work ends, unless a field holds the focus (someone is typing).
(function () {
  var marked = document.querySelector("[data-reload-after]");
  if (!marked) return;
  var after = parseInt(marked.getAttribute("data-reload-after"), 10) || 3000;
  function again() {
    var focused = document.activeElement;
    if (focused && /^(INPUT|TEXTAREA|SELECT)$/.test(focused.tagName)) {
      setTimeout(again, after);
      return;
    }
    window.location.reload();
  }
  setTimeout(again, after);
})();
