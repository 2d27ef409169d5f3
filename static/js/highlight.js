// Coding passages of an observation's text (observations/_coding_panel.html).
//
// The server cuts the Markdown source into segments: elements with data-start and
// data-end, their offsets in the source, counted in code points as Python counts them.
// A selection point becomes a source offset as its segment's start plus the characters
// before the point inside the segment. A segment marked data-masked shows a pseudonym
// instead of a name, so its characters are not the source's: a selection that touches
// one is refused. The offsets and the selected text go into the active passage form
// (hidden start and end, and the quote); the server checks that the text still says
// that. Without JavaScript the same forms take a pasted quote.
//
// Colours of codes are set here too: the CSP forbids style attributes in the markup,
// not styles set from a script; without JavaScript a <mark> keeps its default colour.
(function () {
  "use strict";

  var HEX = /^#[0-9a-fA-F]{6}$/;

  function codePoints(text) {
    return Array.from(text).length;
  }

  function isDark(colour) {
    var r = parseInt(colour.substr(1, 2), 16);
    var g = parseInt(colour.substr(3, 2), 16);
    var b = parseInt(colour.substr(5, 2), 16);
    return 0.299 * r + 0.587 * g + 0.114 * b < 128;
  }

  function paint(root) {
    var marks = root.querySelectorAll("[data-colours]");
    for (var i = 0; i < marks.length; i++) {
      var colours = marks[i].getAttribute("data-colours").split(",").filter(function (c) {
        return HEX.test(c);
      });
      if (!colours.length) {
        continue;
      }
      if (colours.length === 1) {
        marks[i].style.backgroundColor = colours[0];
      } else {
        // Overlapping passages of several codes: a stripe of each code's colour.
        var stops = colours.map(function (c, k) {
          return c + " " + k * 6 + "px " + (k + 1) * 6 + "px";
        });
        marks[i].style.backgroundImage =
          "repeating-linear-gradient(135deg, " + stops.join(", ") + ")";
        marks[i].classList.add("coding-overlap");
      }
      marks[i].style.color = isDark(colours[0]) ? "#fff" : "#000";
    }
  }

  paint(document);

  var source = document.getElementById("coding-source");
  if (!source || !window.getSelection || !document.createRange) {
    return;
  }
  // The source keeps its line breaks but wraps (a rule in the stylesheet would do).
  source.style.whiteSpace = "pre-wrap";
  source.style.overflowWrap = "anywhere";

  var segments = source.querySelectorAll("[data-start]");
  var length = segments.length ? +segments[segments.length - 1].getAttribute("data-end") : 0;
  var masked = Array.prototype.filter.call(segments, function (s) {
    return s.hasAttribute("data-masked");
  });
  var message = document.getElementById("selection-message");
  var forms = document.querySelectorAll("form[data-passage-form]");
  var active = document.querySelector("form[data-passage-form][data-default]") || forms[0];
  var label = source.getAttribute("data-active-label") || "";

  function say(text) {
    if (!message) {
      return;
    }
    message.textContent = text;
    message.hidden = !text;
  }

  function segmentOf(node) {
    var element = node.nodeType === 1 ? node : node.parentNode;
    while (element && element !== source) {
      if (element.hasAttribute && element.hasAttribute("data-start")) {
        return element;
      }
      element = element.parentNode;
    }
    return null;
  }

  // A boundary point inside the source → its offset in the source text; NaN inside a
  // masked name, null outside the source.
  function offsetAt(node, offset) {
    if (node === source) {
      var child = source.childNodes[offset];
      return child ? +child.getAttribute("data-start") : length;
    }
    var segment = segmentOf(node);
    if (!segment) {
      return null;
    }
    var start = +segment.getAttribute("data-start");
    var end = +segment.getAttribute("data-end");
    var before = document.createRange();
    before.setStart(segment, 0);
    before.setEnd(node, offset);
    var count = codePoints(before.toString());
    if (segment.hasAttribute("data-masked")) {
      if (count === 0) {
        return start;
      }
      return count >= codePoints(segment.textContent) ? end : NaN;
    }
    return Math.min(start + count, end);
  }

  function touchesMasked(start, end) {
    for (var i = 0; i < masked.length; i++) {
      var a = +masked[i].getAttribute("data-start");
      var b = +masked[i].getAttribute("data-end");
      if (a < end && start < b) {
        return true;
      }
    }
    return false;
  }

  function buttons(form, selector, show) {
    var found = form.querySelectorAll(selector);
    for (var i = 0; i < found.length; i++) {
      found[i].hidden = !show;
    }
  }

  function fill(form, start, end, text) {
    form.elements.start.value = start;
    form.elements.end.value = end;
    form.elements.quote.value = text;
    form.elements.quote.readOnly = true;
    if (form.elements.occurrence) {
      form.elements.occurrence.value = "";
    }
    var preview = form.querySelector("[data-selection-preview]");
    if (preview) {
      var shown = codePoints(text) > 200 ? Array.from(text).slice(0, 200).join("") + "…" : text;
      preview.textContent = label + " «" + shown + "»";
      preview.hidden = false;
    }
    buttons(form, "[data-clear-selection]", true);
  }

  function clear(form) {
    form.elements.start.value = "";
    form.elements.end.value = "";
    form.elements.quote.value = "";
    form.elements.quote.readOnly = false;
    var preview = form.querySelector("[data-selection-preview]");
    if (preview) {
      preview.hidden = true;
    }
    buttons(form, "[data-clear-selection]", false);
  }

  function capture() {
    var selection = window.getSelection();
    if (!active || !selection.rangeCount || selection.isCollapsed) {
      return;
    }
    var range = selection.getRangeAt(0);
    if (!range.intersectsNode(source)) {
      return;
    }
    var all = document.createRange();
    all.selectNodeContents(source);
    var startNode = range.startContainer;
    var startOffset = range.startOffset;
    var endNode = range.endContainer;
    var endOffset = range.endOffset;
    // A selection running past the text (a triple click) is cut at its edges.
    if (range.compareBoundaryPoints(Range.START_TO_START, all) < 0) {
      startNode = source;
      startOffset = 0;
    }
    if (range.compareBoundaryPoints(Range.END_TO_END, all) > 0) {
      endNode = source;
      endOffset = source.childNodes.length;
    }
    var start = offsetAt(startNode, startOffset);
    var end = offsetAt(endNode, endOffset);
    if (start === null || end === null) {
      return;
    }
    if (isNaN(start) || isNaN(end) || touchesMasked(start, end)) {
      say(source.getAttribute("data-refuse-masked") || "");
      return;
    }
    if (end <= start) {
      return;
    }
    var chosen = document.createRange();
    chosen.setStart(startNode, startOffset);
    chosen.setEnd(endNode, endOffset);
    say("");
    fill(active, start, end, chosen.toString());
  }

  var pending = null;
  document.addEventListener("selectionchange", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(capture, 60);
  });
  source.addEventListener("mouseup", capture);
  source.addEventListener("keyup", capture);

  Array.prototype.forEach.call(forms, function (form) {
    buttons(form, "[data-activate-form]", true);
    var clearButtons = form.querySelectorAll("[data-clear-selection]");
    Array.prototype.forEach.call(clearButtons, function (button) {
      button.addEventListener("click", function () {
        clear(form);
      });
    });
    // A typed or pasted quote is searched for by the server; stale offsets must go.
    form.elements.quote.addEventListener("input", function () {
      if (!form.elements.quote.readOnly) {
        form.elements.start.value = "";
        form.elements.end.value = "";
      }
    });
  });

  var activators = document.querySelectorAll("[data-activate-form]");
  Array.prototype.forEach.call(activators, function (button) {
    button.addEventListener("click", function () {
      var form = document.getElementById(button.getAttribute("data-activate-form"));
      if (!form) {
        return;
      }
      Array.prototype.forEach.call(forms, function (other) {
        other.classList.remove("border", "border-primary", "rounded", "p-2");
      });
      active = form;
      form.classList.add("border", "border-primary", "rounded", "p-2");
      source.scrollIntoView({ block: "nearest" });
    });
  });
})();
