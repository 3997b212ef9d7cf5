// PayLedger dashboard: live figures over server-sent events. No framework, no build step.
// The server renders every panel; each "snapshot" event carries the panels' new HTML, which
// replaces the old (the server escaped it: it is the same fragment the page was built from).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var text = document.getElementById("live-text");
  var updated = document.getElementById("updated");
  var position = document.getElementById("log-position");

  function state(name, label) {
    live.setAttribute("data-state", name);
    text.textContent = label;
  }

  function apply(snapshot) {
    var panels = snapshot.panels || {};
    Object.keys(panels).forEach(function (name) {
      var section = document.getElementById("panel-" + name);
      if (!section || section.innerHTML === panels[name]) { return; }
      section.innerHTML = panels[name];
      section.classList.remove("updated");
      void section.offsetWidth; // restart the highlight
      section.classList.add("updated");
    });
    var at = new Date(snapshot.generated_at);
    updated.setAttribute("datetime", snapshot.generated_at);
    updated.textContent = at.toISOString().slice(11, 19) + " UTC";
    position.textContent = String(snapshot.position);
    document.body.setAttribute("data-position", String(snapshot.position));
  }

  var source = new EventSource(live.getAttribute("data-events"));
  source.addEventListener("hello", function () { state("live", "live"); });
  source.addEventListener("snapshot", function (event) {
    state("live", "live");
    apply(JSON.parse(event.data));
  });
  source.addEventListener("unavailable", function () {
    state("offline", "figures unavailable: retrying");
  });
  source.addEventListener("signed-out", function () {
    source.close();
    state("offline", "signed out");
    window.location.assign("/dashboard/login");
  });
  source.onerror = function () {
    // EventSource reconnects by itself (every few seconds); say so meanwhile.
    state(source.readyState === EventSource.CLOSED ? "offline" : "connecting",
      source.readyState === EventSource.CLOSED ? "offline" : "reconnecting…");
  };
}());
