// Dashboard Mantap! — the little JavaScript the pages need: live device updates over
// server-sent events, the QR countdown, dialogs, and the key-reveal dialogs (the key is
// fetched on demand and only ever placed inside its dialog).
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// --- dialogs ---------------------------------------------------------------------------------
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open-dialog]");
  if (opener) {
    document.getElementById(opener.dataset.openDialog)?.showModal();
    return;
  }
  const closer = event.target.closest("[data-close-dialog]");
  if (closer) closer.closest("dialog")?.close();
});

// A dialog's revealed secret never outlives the dialog.
document.querySelectorAll("dialog[data-secret-dialog]").forEach((dialog) => {
  dialog.addEventListener("close", () => {
    dialog.querySelectorAll("[data-secret-output]").forEach((el) => { el.value = ""; });
    dialog.querySelectorAll("[data-secret-box]").forEach((el) => { el.hidden = true; });
    dialog.querySelectorAll("input[type=password]").forEach((el) => { el.value = ""; });
    const error = dialog.querySelector("[data-secret-error]");
    if (error) error.hidden = true;
  });
});

// Delete: the button wakes up once the device's name is typed exactly.
document.querySelectorAll("[data-must-equal]").forEach((input) => {
  const button = input.closest("form").querySelector("[data-confirm-button]");
  input.addEventListener("input", () => { button.disabled = input.value.trim() !== input.dataset.mustEqual; });
});

// --- reveal / rotate dialogs -----------------------------------------------------------------
document.querySelectorAll("form[data-secret-form]").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector("[data-secret-error]");
    const box = form.querySelector("[data-secret-box]");
    const output = form.querySelector("[data-secret-output]");
    error.hidden = true;
    let answer;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      answer = await response.json();
      if (!response.ok) throw new Error(answer?.error?.message || `HTTP ${response.status}`);
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      return;
    }
    output.value = answer.app_token || answer.webhook_secret || "";
    box.hidden = false;
    form.querySelectorAll("input[type=password]").forEach((el) => { el.value = ""; });
    output.select();
  });
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-secret]");
  if (!button) return;
  const output = button.closest("[data-secret-box]").querySelector("[data-secret-output]");
  try { await navigator.clipboard.writeText(output.value); button.textContent = "Copied"; }
  catch { output.select(); }
});

// --- actions that must not reload the page (it is watching a device live) -------------------
document.querySelectorAll("form[data-async]").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = form.closest("section")?.querySelector("[data-async-result]");
    let text, ok;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" },
        credentials: "same-origin",
      });
      const answer = await response.json();
      ok = response.ok;
      text = ok ? answer.message : (answer?.error?.message || `HTTP ${response.status}`);
    } catch (problem) {
      ok = false;
      text = problem.message;
    }
    if (result) {
      result.textContent = text;
      result.className = ok ? "flash" : "flash flash-error";
      result.hidden = false;
    }
  });
});

// --- QR countdown ----------------------------------------------------------------------------
function tickCountdowns() {
  document.querySelectorAll("[data-countdown]").forEach((el) => {
    const expires = Date.parse(el.dataset.expires || "");
    if (!expires) { el.textContent = ""; return; }
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    el.textContent = left > 0 ? `This code changes in ${left} s` : "Waiting for the next code…";
  });
}
setInterval(tickCountdowns, 250);
tickCountdowns();

const deviceView = document.getElementById("device-view");
if (deviceView) toggleSections(deviceView, deviceView.dataset.status);

// --- live device updates ---------------------------------------------------------------------
function setText(root, field, value) {
  root.querySelectorAll(`[data-field="${field}"]`).forEach((el) => { el.textContent = value; });
}

function showStatus(root, status) {
  root.querySelectorAll('[data-field="status"]').forEach((el) => {
    el.textContent = status;
    el.className = `status status-${status}`;
  });
}

// Sections that make sense only in some states (the QR while pairing, the test message
// once linked) follow the device's status.
function toggleSections(view, status) {
  view.querySelectorAll("[data-show-when]").forEach((el) => {
    el.hidden = !el.dataset.showWhen.split(" ").includes(status);
  });
}

function applyToDevicePage(view, device) {
  view.dataset.status = device.status;
  showStatus(view, device.status);
  setText(view, "connection", device.connection);
  setText(view, "wa_number", device.wa_number || "");
  setText(view, "pairing_code", device.pairing_code || "");
  const pairingLine = view.querySelector('[data-field="pairing_code_line"]');
  if (pairingLine) pairingLine.hidden = !device.pairing_code;
  if (device.last_error) setText(view, "last_error_line", `Last error: ${device.last_error}`);
  toggleSections(view, device.status);
  const image = document.getElementById("qr-image");
  if (image) {
    if (device.qr_image && image.getAttribute("src") !== device.qr_image) image.src = device.qr_image;
    image.hidden = !device.qr_image;
  }
  view.querySelectorAll("[data-countdown]").forEach((el) => { el.dataset.expires = device.qr_expires_at || ""; });
  tickCountdowns();
}

function applySnapshot(devices) {
  const view = document.getElementById("device-view");
  for (const device of devices) {
    if (view && view.dataset.deviceId === device.device_id) applyToDevicePage(view, device);
    document.querySelectorAll(`tr[data-device-id="${device.device_id}"]`).forEach((row) => {
      showStatus(row, device.status);
      setText(row, "connection", device.connection);
      setText(row, "wa_number", device.wa_number || "—");
    });
  }
}

const liveUrl = document.body.dataset.live;
if (liveUrl && window.EventSource) {
  const source = new EventSource(liveUrl);
  source.onmessage = (message) => applySnapshot(JSON.parse(message.data));
}

// --- regions that refresh themselves (delivery log, recent messages and events, overview) ---
// The page asks for itself again and swaps in the regions' new content: the same HTML the
// server renders, so there is one template per view and no client-side rendering.
const refreshed = document.querySelectorAll("[data-refresh-region]");
if (refreshed.length) {
  const every = Number(document.body.dataset.refreshSeconds || 3) * 1000;
  setInterval(async () => {
    if (document.hidden) return;
    let html;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok || response.redirected) return;
      html = await response.text();
    } catch { return; }
    const fresh = new DOMParser().parseFromString(html, "text/html");
    refreshed.forEach((region) => {
      // Not while the operator is using a form in it (a reply being typed, an open one).
      const typing = document.activeElement;
      if (typing && region.contains(typing) && typing.matches("input, textarea, select")) return;
      if (region.querySelector("details[open]")) return;
      const next = fresh.querySelector(`[data-refresh-region="${region.dataset.refreshRegion}"]`);
      if (next && next.innerHTML !== region.innerHTML) region.innerHTML = next.innerHTML;
    });
  }, every);
}
