/* The admin's "New user" form: the partner choice shows only for a partner's account and the
   landlord choice only for a landlord's. Without this script both stay on the page and the
   server refuses a choice that does not fit the role. A hidden choice is disabled, so it is
   not sent. */

const form = document.getElementById("new-user");
const role = document.getElementById("new-role");

function showTheRolesChoice() {
  for (const part of form.querySelectorAll(".for-role")) {
    const fits = part.dataset.role === role.value;
    part.hidden = !fits;
    for (const select of part.querySelectorAll("select")) select.disabled = !fits;
  }
}

if (form && role) {
  role.addEventListener("change", showTheRolesChoice);
  showTheRolesChoice();
}
