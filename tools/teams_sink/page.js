// The sink page's cards: each message's Adaptive Cards drawn by the official renderer with Teams'
// light host config (tools/render/cards.js), and what the renderer complained about.
(function () {
  "use strict";

  function problemsOf(result) {
    var found = result.warnings.concat(result.dropped);
    if (result.empty) {
      found.push("the card renders empty");
    }
    // The version (and every other Workflows rule) is the sink's verdict, listed above the card.
    return found;
  }

  function draw(config) {
    var posts = document.querySelectorAll(".post");
    for (var i = 0; i < posts.length; i++) {
      var node = posts[i];
      var source = node.querySelector("pre.card-json");
      if (!source) {
        continue;  // a flow run that failed before any card: nothing to draw
      }
      var card;
      try {
        card = JSON.parse(source.textContent);
      } catch (error) {
        continue;
      }
      if (!card || card.type !== "AdaptiveCard") {
        continue;
      }
      var target = node.querySelector(".cards");
      var host = document.createElement("div");
      host.className = "card";
      target.appendChild(host);
      var found = problemsOf(TeamsCards.renderCard(card, config, "1.4", host));
      if (found.length) {
        var list = document.createElement("ul");
        list.className = "problems";
        for (var k = 0; k < found.length; k++) {
          var item = document.createElement("li");
          item.textContent = found[k];
          list.appendChild(item);
        }
        target.appendChild(list);
      }
    }
  }

  var note = document.getElementById("renderer");
  if (!window.TeamsCards) {
    note.textContent = "The card renderer's scripts did not load (run npm ci): showing JSON only.";
    return;
  }
  fetch("/assets/hostconfig-light.json").then(function (response) {
    return response.ok ? response.json() : null;
  }).catch(function () {
    return null;
  }).then(function (config) {
    if (!config) {
      note.textContent = "Teams' host config is absent (../shared/hostconfig): cards use the renderer's defaults.";
    }
    draw(config);
  });
})();
