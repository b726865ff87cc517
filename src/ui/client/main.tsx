/**
 * Entry point of the web UI's bundle.
 *
 * @module
 */
import { render } from "preact";
import { App } from "./app.tsx";

render(<App />, document.getElementById("app")!);
