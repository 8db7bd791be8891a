/* The case card: the consent text in the chosen language, and the signature pad. */

function showConsentText(select) {
  const form = select.form;
  for (const block of form.querySelectorAll("[data-text-for]")) {
    block.hidden = block.dataset.textFor !== select.value;
  }
  const option = select.selectedOptions[0];
  form.elements.text_id.value = option ? option.dataset.textId : "";
}

for (const select of document.querySelectorAll("select[data-switch-text]")) {
  showConsentText(select);
  select.addEventListener("change", () => showConsentText(select));
  select.form.addEventListener("outbox:saved", () => showConsentText(select));
}

for (const canvas of document.querySelectorAll("canvas.signature-pad")) {
  const form = canvas.closest("form");
  const field = form.elements.signature;
  const context = canvas.getContext("2d");
  let drawing = false;
  let drawn = false;

  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  };
  const clear = () => {
    context.clearRect(0, 0, canvas.width, canvas.height);
    drawn = false;
    field.value = "";
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    context.lineWidth = 3;
    context.lineCap = "round";
    context.strokeStyle = "#1a1a1a";
    context.beginPath();
    context.moveTo(...point(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    context.lineTo(...point(event));
    context.stroke();
    drawn = true;
  });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    if (drawn) field.value = canvas.toDataURL("image/png");
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  form.querySelector("[data-clear-signature]")?.addEventListener("click", clear);
  form.addEventListener("outbox:saved", clear);
}
