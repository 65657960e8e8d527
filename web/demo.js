// The demo page of `make dev`: picks the token the <security-logs> element is given. The
// the walk-through's two demo accounts, a pasted token, or `#token=<JWT>` in the address (read once, then
// removed from the address so it does not stay in the history). Nothing is stored.

// The walk-through's ALICE and BOB (docs/walkthrough.md): unsigned local tokens, which only the dev server accepts.
const DEMO_TOKENS = {
  alice:
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhY2NvdW50X2lkIjoiYWNjdF9kZW1vIiwic3ViIjoidV8xIiwibmFtZSI6IkFsaWNlIE1lcmNoYW50In0.local",
  bob: "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhY2NvdW50X2lkIjoiYWNjdF9vdGhlciIsInN1YiI6InVfNyIsIm5hbWUiOiJCb2IgT3RoZXIifQ.local",
};

const logs = document.getElementById("logs");
const form = document.getElementById("identity");
const account = document.getElementById("account");
const paste = document.getElementById("paste");
const tokenInput = document.getElementById("token");

let token = DEMO_TOKENS.alice;
// The component asks before every request, as a dashboard's session would answer.
logs.getToken = async () => token;

function use(newToken) {
  token = newToken;
  logs.reload();
}

const fragment = new URLSearchParams(window.location.hash.slice(1));
if (fragment.get("token")) {
  account.value = "paste";
  paste.hidden = false;
  use(fragment.get("token"));
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

account.addEventListener("change", () => {
  paste.hidden = account.value !== "paste";
  if (account.value === "paste") tokenInput.focus();
  else use(DEMO_TOKENS[account.value]);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (tokenInput.value.trim()) use(tokenInput.value.trim());
});

logs.addEventListener("security-logs:unauthorized", () => {
  account.value = "paste";
  paste.hidden = false;
});
