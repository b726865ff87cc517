import { bundleUi, GENERATED } from "../../scripts/ui.ts";
import { assert } from "../assert.ts";

Deno.test({
  name: "ui bundle: src/ui/assets.gen.ts is what `deno task ui` builds from the sources",
  sanitizeResources: false,
  async fn() {
    const fresh = await bundleUi();
    const committed = await Deno.readTextFile(GENERATED);
    assert(
      fresh === committed,
      "src/ui/assets.gen.ts is stale: run `deno task ui` and commit the result",
    );
  },
});

Deno.test("ui bundle: bundling twice gives the same bytes", async () => {
  assert((await bundleUi()) === (await bundleUi()), "the bundle is reproducible");
});
