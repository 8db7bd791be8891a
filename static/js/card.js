/* The case card at the door: the visit one step at a time, the consent text in the chosen
   language, and the signature pad. Saving is outbox.js's; this file only folds a saved step
   into the line that says what was saved and opens the next one. */

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

// At most this many pixels across: a finger's signature needs no more, and the PNG stays
// well inside what the register takes.
const MAX_PAD_PIXELS = 900;

for (const canvas of document.querySelectorAll("canvas.signature-pad")) {
  const form = canvas.closest("form");
  const field = form.elements.signature;
  const context = canvas.getContext("2d");
  let drawing = false;
  let drawn = false;

  const fit = () => {
    // Draw at the size the pad is shown (the screen's width, not a fixed 600 × 200), so a
    // stroke lands under the finger and is not stretched; redone while nothing is drawn.
    const box = canvas.getBoundingClientRect();
    if (drawn || box.width === 0) return;
    const scale = Math.min(window.devicePixelRatio || 1, MAX_PAD_PIXELS / box.width);
    canvas.width = Math.round(box.width * scale);
    canvas.height = Math.round(box.height * scale);
  };
  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  };
  const clear = () => {
    context.clearRect(0, 0, canvas.width, canvas.height);
    drawn = false;
    field.value = "";
    fit();
  };
  if ("ResizeObserver" in window) new ResizeObserver(fit).observe(canvas);
  canvas.addEventListener("pointerdown", (event) => {
    fit();
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    context.lineWidth = Math.max(2, canvas.width / 200);
    context.lineCap = "round";
    context.lineJoin = "round";
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
    if (drawn) {
      field.value = canvas.toDataURL("image/png");
      const message = form.querySelector("#signature-message");
      if (message) message.hidden = true;
    }
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  form.querySelector("[data-clear-signature]")?.addEventListener("click", clear);
  form.addEventListener("outbox:saved", clear);
}

/* Each need ticked gets its own note field under the list (the list itself never moves
   under the finger); unticked, the note goes away with it. */
for (const form of document.querySelectorAll("form[data-outbox=need]")) {
  const sync = () => {
    for (const box of form.querySelectorAll("input[name=need]")) {
      const note = document.getElementById(box.getAttribute("aria-controls"));
      if (note) note.hidden = !box.checked;
    }
  };
  form.addEventListener("change", sync);
  form.addEventListener("outbox:saved", sync);
  sync();
}

/* The steps: contact → consent (unless given) → needs → actions → done. */
const flow = document.getElementById("door-steps");
if (flow) {
  const steps = [...flow.querySelectorAll(":scope > [data-step]")];
  const byName = Object.fromEntries(steps.map((step) => [step.dataset.step, step]));
  const recorded = document.getElementById("door-recorded");

  const setOpen = (step, open) => {
    step.querySelector(".step-body").hidden = !open;
    step.querySelector(".step-toggle").setAttribute("aria-expanded", String(open));
    step.classList.toggle("is-open", open);
  };
  const openOnly = (wanted) => {
    for (const step of steps) setOpen(step, step === wanted);
  };
  const nextAfter = (name, records) => {
    // Nobody met (not at home, moved, a note left): nothing to agree on; straight to done.
    if (name === "visit" && records[0]?.data.result !== "met") return byName.done;
    const order = ["visit", "consent", "needs", "action", "done"];
    for (const candidate of order.slice(order.indexOf(name) + 1)) {
      const step = byName[candidate];
      if (step && !(candidate === "consent" && step.dataset.done === "1")) return step;
    }
    return byName.done;
  };
  const remember = (labels) => {
    if (!recorded) return;
    if (recorded.dataset.started !== "1") {
      recorded.replaceChildren();
      recorded.dataset.started = "1";
    }
    for (const label of labels) {
      const item = document.createElement("li");
      item.textContent = label;
      recorded.append(item);
    }
  };

  for (const step of steps) {
    step.querySelector(".step-toggle").addEventListener("click", () => {
      const open = step.querySelector(".step-body").hidden;
      openOnly(open ? step : null);
      if (open && step.getBoundingClientRect().top < 0) step.scrollIntoView({ block: "start" });
    });
  }

  flow.addEventListener("outbox:saved", (event) => {
    const step = event.target.closest("[data-step]");
    const records = event.detail?.records || [];
    if (!step || !records.length) return;
    const labels = records.map((record) => record.label);
    remember(labels);
    // An earlier action's new state is saved where it stands: the step stays open.
    if (event.target.hasAttribute("data-in-place")) return;
    step.dataset.done = "1";
    step.classList.add("is-done");
    const done = step.querySelector(".step-done");
    done.hidden = false;
    done.querySelector(".step-what").textContent = labels.map((label) => label.replace(/^[^:]*:\s*/, "")).join(" · ");
    if (event.target.id === "withdraw-form") {
      // Withdrawn: no second withdrawal, and the next visit asks for consent again.
      event.target.hidden = true;
      delete step.dataset.done;
      return;
    }
    const next = nextAfter(step.dataset.step, records);
    openOnly(next);
    // The keyboard and the screen reader go on from the line that says what was saved, not
    // from the top of the page (the button that had the focus is folded away).
    done.focus({ preventScroll: true });
    // No jump: the saved step's line (with its confirmation, which outbox.js keeps in view)
    // sits where the step began, and the next step opens right under it.
  });

  // The outbox bar above grows and shrinks with what it says ("Sending failed…"); with the
  // browser's own scroll anchoring off (it moved the page when a step folded), keep what the
  // worker is looking at where it was.
  const bar = document.getElementById("outbox-bar");
  if (bar && "ResizeObserver" in window) {
    let height = bar.offsetHeight;
    new ResizeObserver(() => {
      const change = bar.offsetHeight - height;
      height = bar.offsetHeight;
      if (change && window.scrollY > 0) window.scrollBy(0, change);
    }).observe(bar);
  }

  // The first step open; a consent already given shows as done with what it covers.
  for (const step of steps) if (step.dataset.done === "1") step.classList.add("is-done");
  openOnly(byName.visit);
}
