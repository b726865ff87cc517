/**
 * The token screen: the UI asks for a JWT (as `prunner debug` prints it) and keeps it in the
 * tab's session storage only.
 *
 * @module
 */
import { useState } from "preact/hooks";

/** Asks for a token; `notice` says why (for example, the server refused the last one). */
export function TokenScreen(props: { notice: string | null; onToken: (token: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <main class="token-screen">
      <h1>prunner</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim() !== "") props.onToken(value);
        }}
      >
        {props.notice && <p class="error" role="alert">{props.notice}</p>}
        <label for="token">Token</label>
        <textarea
          id="token"
          name="token"
          rows={4}
          required
          autoFocus
          spellcheck={false}
          autoComplete="off"
          value={value}
          onInput={(event) => setValue(event.currentTarget.value)}
        />
        <p class="hint">
          A JWT signed with prunner's secret; <code>prunner debug</code>{" "}
          prints one, and a link that signs in directly. It is kept in this tab only.
        </p>
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
