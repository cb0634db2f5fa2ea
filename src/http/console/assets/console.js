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
