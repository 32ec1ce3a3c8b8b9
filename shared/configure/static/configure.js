// The configuration page's few behaviours; the page works without them (forms post normally).
// Loaded as a file (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  var meta = function (name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  };
  var base = meta("configure-base");
  var csrf = meta("csrf-token");
  var form = document.getElementById("sub-form");
  if (!form) { return; }
  var tz = document.getElementById("tz");
  var times = document.getElementById("times");
  var target = document.getElementById("target");
  var runs = document.getElementById("runs");
  var places = document.getElementById("places");
  var didYouMean = document.getElementById("did-you-mean");
  var jsonFields = document.getElementById("json-fields");
  var targetLabel = document.getElementById("target-label");
  var preview = document.getElementById("preview");
  var LABELS = { weather: "Place", rss: "Feed URL (RSS or Atom)", events: "Route name", json: "JSON URL" };

  // The browser's zone is the default of a new digest (not of one being changed, or sent back with errors).
  if (tz && !tz.getAttribute("data-chosen")) {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && tz.querySelector('option[value="' + zone.replace(/"/g, "") + '"]')) { tz.value = zone; }
    } catch (e) { /* keep UTC */ }
  }

  function kind() {
    var checked = form.querySelector('input[name="source"]:checked') || form.querySelector('input[name="source"]');
    return checked ? checked.value : "weather";
  }

  function days() {
    var out = [];
    form.querySelectorAll('input[name="days"]:checked').forEach(function (box) { out.push(box.value); });
    return out.join(",");
  }

  function onKind() {
    var k = kind();
    if (targetLabel) { targetLabel.textContent = LABELS[k] || "Target"; }
    if (jsonFields) { jsonFields.hidden = k !== "json"; }
    target.setAttribute("list", k === "events" ? "route-names" : "places");
    target.setAttribute("inputmode", k === "rss" || k === "json" ? "url" : "text");
  }

  var runsTimer = null;
  function showRuns() {
    clearTimeout(runsTimer);
    runsTimer = setTimeout(function () {
      var query = "times=" + encodeURIComponent(times.value) + "&days=" + encodeURIComponent(days()) +
        "&tz=" + encodeURIComponent(tz.value);
      fetch(base + "/next-runs?" + query, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          runs.textContent = "";
          if (data.error) {
            var p = document.createElement("p");
            p.className = "error";
            p.textContent = data.error;
            runs.appendChild(p);
            return;
          }
          var title = document.createElement("p");
          title.textContent = "Next runs:";
          var list = document.createElement("ul");
          data.runs.forEach(function (run) {
            var li = document.createElement("li");
            li.textContent = run;
            list.appendChild(li);
          });
          runs.appendChild(title);
          runs.appendChild(list);
        })
        .catch(function () { runs.textContent = ""; });
    }, 250);
  }

  var placeTimer = null;
  function suggestPlaces() {
    clearTimeout(placeTimer);
    if (kind() !== "weather") { didYouMean.textContent = ""; return; }
    var q = target.value.trim();
    if (q.length < 2) { didYouMean.textContent = ""; return; }
    placeTimer = setTimeout(function () {
      fetch(base + "/places?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          places.textContent = "";
          var found = data.places || [];
          found.forEach(function (name) {
            var option = document.createElement("option");
            option.value = name.split(",")[0];
            option.label = name;
            places.appendChild(option);
          });
          if (data.error) { didYouMean.textContent = data.error; }
          else if (!found.length) { didYouMean.textContent = "No place by that name was found."; }
          else { didYouMean.textContent = "Did you mean: " + found.join("; ") + "?"; }
        })
        .catch(function () { didYouMean.textContent = ""; });
    }, 300);
  }

  function formBody() {
    var data = new URLSearchParams(new FormData(form));
    if (!data.get("source")) { data.set("source", kind()); }
    return data;
  }

  function showCard(card) {
    preview.textContent = "";
    var heading = document.createElement("h3");
    heading.textContent = "What would be posted now (not posted)";
    preview.appendChild(heading);
    var frame = document.createElement("div");
    frame.className = "card-frame";
    frame.id = "preview-card";
    preview.appendChild(frame);
    var ac = window.AdaptiveCards;
    if (!ac) { frame.textContent = "The card renderer is not installed on this app."; return Promise.resolve(); }
    if (window.markdownit) {
      var md = window.markdownit();
      ac.AdaptiveCard.onProcessMarkdown = function (text, result) {
        result.outputHtml = md.render(text);
        result.didProcess = true;
      };
    }
    return fetch(base + "/static/vendor/hostconfig-light.json", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; })
      .then(function (hostConfig) {
        var adaptive = new ac.AdaptiveCard();
        if (hostConfig) { adaptive.hostConfig = new ac.HostConfig(hostConfig); }
        adaptive.parse(card);
        var rendered = adaptive.render();
        if (rendered) { frame.appendChild(rendered); }
        frame.setAttribute("data-rendered", "yes");
        preview.focus();
      });
  }

  function showMe() {
    preview.textContent = "Fetching…";
    fetch(base + "/preview", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
      body: formBody().toString()
    })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.error) {
          preview.textContent = "";
          var p = document.createElement("p");
          p.className = "error";
          p.setAttribute("role", "alert");
          p.textContent = data.error;
          preview.appendChild(p);
          return;
        }
        return showCard(data.card);
      })
      .catch(function () { preview.textContent = "The preview could not be fetched."; });
  }

  form.querySelectorAll('input[name="source"]').forEach(function (radio) {
    radio.addEventListener("change", function () { onKind(); suggestPlaces(); });
  });
  form.querySelectorAll('input[name="days"]').forEach(function (box) { box.addEventListener("change", showRuns); });
  times.addEventListener("input", showRuns);
  tz.addEventListener("change", showRuns);
  target.addEventListener("input", suggestPlaces);
  var button = document.getElementById("show-me");
  if (button) { button.addEventListener("click", showMe); }
  onKind();
  showRuns();
}());
