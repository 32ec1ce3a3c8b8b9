// Renders one Adaptive Card with the official renderer (npm `adaptivecards`) and says what went wrong.
//
// Used by the Python renderer (tools/render, in headless Chromium) and by the Teams sink's page (in the
// developer's browser). Needs `AdaptiveCards` (adaptivecards.min.js) and `markdownit` (markdown-it.min.js)
// loaded first. Everything here is plain ES2017 with no build step.
(function (global) {
  "use strict";

  var AC = global.AdaptiveCards;
  var md = global.markdownit ? global.markdownit({ html: false, linkify: false, breaks: false }) : null;

  if (md) {
    // Teams renders Markdown in TextBlocks; without a processor the renderer shows `**` as typed.
    AC.AdaptiveCard.onProcessMarkdown = function (text, result) {
      // Teams shows an `<at>Name</at>` mention as the name, highlighted (markdown-it escapes the tag).
      result.outputHtml = md.render(text).replace(/&lt;at&gt;(.*?)&lt;\/at&gt;/g,
        '<span class="ac-mention" style="font-weight:600;color:#5b5fc7">$1</span>');
      result.didProcess = true;
    };
  }

  var LEVELS = ["hint", "action type not allowed", "collection can't be empty", "deprecated",
    "element type not allowed", "interactivity not allowed", "invalid property value", "missing card type",
    "property can't be null", "too many actions", "unknown action type", "unknown element type",
    "unsupported card version", "duplicate id", "unsupported property", "required input without label",
    "required input without error message", "other"];

  function parseVersion(text) {
    var match = /^(\d+)\.(\d+)$/.exec(String(text || ""));
    return match ? [parseInt(match[1], 10), parseInt(match[2], 10)] : null;
  }

  function describe(event) {
    var what = LEVELS[event.event] || "event " + event.event;
    var where = "";
    if (event.source && typeof event.source.getJsonTypeName === "function") {
      where = event.source.getJsonTypeName();
      if (event.source.id) {
        where += "#" + event.source.id;
      }
      where += ": ";
    }
    return where + what + ": " + event.message;
  }

  // --- the card's JSON, as the sender wrote it ---------------------------------------------------

  function jsonType(node, slot) {
    if (typeof node === "string") {
      return slot === "inlines" ? "TextRun" : null;
    }
    if (!node || typeof node !== "object") {
      return null;
    }
    if (slot === "columns") {
      return "Column";
    }
    if (slot === "images") {
      return "Image";
    }
    if (slot === "rows") {
      return "TableRow";
    }
    if (slot === "cells") {
      return "TableCell";
    }
    return typeof node.type === "string" ? node.type : null;
  }

  function jsonChildren(node) {
    var slots = ["items", "columns", "images", "rows", "cells", "inlines"];
    for (var i = 0; i < slots.length; i++) {
      if (Array.isArray(node[slots[i]])) {
        return { slot: slots[i], list: node[slots[i]] };
      }
    }
    return { slot: null, list: [] };
  }

  // --- the parsed object model, compared with the JSON ------------------------------------------

  function parsedChildren(obj) {
    var out = [];
    var i;
    if (typeof obj.getInlineCount === "function") {
      for (i = 0; i < obj.getInlineCount(); i++) {
        out.push(obj.getInlineAt(i));
      }
    } else if (typeof obj.getItemCount === "function") {
      for (i = 0; i < obj.getItemCount(); i++) {
        out.push(obj.getItemAt(i));
      }
    }
    return out;
  }

  function parsedActions(obj) {
    var out = [];
    if (typeof obj.getActionCount === "function") {
      for (var i = 0; i < obj.getActionCount(); i++) {
        var action = obj.getActionAt(i);
        if (action) {
          out.push(action);
        }
      }
    }
    return out;
  }

  // Walks JSON and model side by side; a JSON element with no parsed counterpart is reported as dropped
  // (unknown type, a type or property newer than the target version, a forbidden action...).
  function compare(json, parsed, path, report) {
    var kids = jsonChildren(json);
    if (json.type === "AdaptiveCard" || path === "card") {
      kids = { slot: "body", list: Array.isArray(json.body) ? json.body : [] };
    }
    matchList(kids.list, kids.slot, parsedChildren(parsed), path + "." + kids.slot, report);
    if (Array.isArray(json.actions)) {
      matchList(json.actions, "actions", parsedActions(parsed), path + ".actions", report);
    }
    if (json.selectAction && typeof json.selectAction === "object") {
      report.counted += 1;
      if (!parsed.selectAction) {
        report.dropped.push(path + ".selectAction (" + (json.selectAction.type || "?") + ") was dropped");
      }
    }
    if (json.card && typeof json.card === "object" && parsed.card) {
      compare(json.card, parsed.card, path + ".card", report);
    }
  }

  function matchList(jsonList, slot, parsedList, path, report) {
    var next = 0;
    for (var i = 0; i < jsonList.length; i++) {
      var type = jsonType(jsonList[i], slot);
      var here = path + "[" + i + "]";
      report.counted += 1;
      if (type === null) {
        report.dropped.push(here + " has no type and was dropped");
        continue;
      }
      var candidate = parsedList[next];
      if (candidate && candidate.getJsonTypeName() === type) {
        next += 1;
        report.paths.set(candidate, here);
        if (typeof jsonList[i] === "object") {
          compare(jsonList[i], candidate, here, report);
        }
        continue;
      }
      var fallback = jsonList[i] && typeof jsonList[i] === "object" ? jsonList[i].fallback : null;
      if (candidate && fallback && typeof fallback === "object" && candidate.getJsonTypeName() === fallback.type) {
        next += 1;
        report.dropped.push(here + " (" + type + ") was replaced by its fallback " + fallback.type);
        continue;
      }
      report.dropped.push(here + " (" + type + ") was dropped");
    }
  }

  // --- after rendering: every parsed element must have produced something -----------------------

  function checkRendered(obj, path, report) {
    var kids = parsedChildren(obj);
    for (var i = 0; i < kids.length; i++) {
      var kid = kids[i];
      var here = (report.paths.get(kid) || path + ".?[" + i + "]") + " (" + kid.getJsonTypeName() + ")";
      if (!kid.renderedElement) {
        report.dropped.push(here + " rendered nothing");
      } else {
        checkRendered(kid, report.paths.get(kid) || here, report);
      }
    }
    var actions = parsedActions(obj);
    for (var j = 0; j < actions.length; j++) {
      if (!actions[j].renderedElement) {
        var label = report.paths.get(actions[j]) || path + ".actions[" + j + "]";
        report.dropped.push(label + " (" + actions[j].getJsonTypeName() + ", \"" +
          (actions[j].title || "") + "\") is not shown (over the host's maxActions?)");
      }
    }
  }

  function isEmpty(element) {
    if (!element) {
      return true;
    }
    var text = (element.innerText || element.textContent || "").trim();
    return !text && !element.querySelector("img,button,input,video");
  }

  // --- the entry point ---------------------------------------------------------------------------

  // Parses `cardJson` for `target` ("1.4"), validates, renders into `host` (an element) and returns
  // {ok, version, warnings, dropped, counted, empty, html}; never throws for a bad card.
  function renderCard(cardJson, hostConfigJson, target, host) {
    var result = { version: "", warnings: [], dropped: [], counted: 0, empty: true, html: "" };
    host.innerHTML = "";
    if (!cardJson || typeof cardJson !== "object" || Array.isArray(cardJson)) {
      result.warnings.push("the card is not a JSON object");
      return result;
    }
    result.version = typeof cardJson.version === "string" ? cardJson.version : "";
    var wanted = parseVersion(target) || [1, 4];
    var context = new AC.SerializationContext(new AC.Version(wanted[0], wanted[1]));
    var card = new AC.AdaptiveCard();
    if (hostConfigJson) {
      card.hostConfig = new AC.HostConfig(hostConfigJson);
    }
    try {
      card.parse(cardJson, context);
    } catch (error) {
      result.warnings.push("parse failed: " + error);
      return result;
    }
    for (var i = 0; i < context.eventCount; i++) {
      result.warnings.push("parse: " + describe(context.getEventAt(i)));
    }
    var validation = card.validateProperties();
    for (var j = 0; j < validation.validationEvents.length; j++) {
      result.warnings.push("validation: " + describe(validation.validationEvents[j]));
    }
    var report = { dropped: [], counted: 0, paths: new Map() };
    report.paths.set(card, "card");
    compare(cardJson, card, "card", report);
    var rendered;
    try {
      rendered = card.render();
    } catch (error) {
      result.warnings.push("render failed: " + error);
    }
    if (rendered) {
      host.appendChild(rendered);
      checkRendered(card, "card", report);
      result.html = rendered.outerHTML;
    }
    result.dropped = report.dropped;
    result.counted = report.counted;
    result.empty = isEmpty(rendered);
    return result;
  }

  global.TeamsCards = { renderCard: renderCard };
})(window);
