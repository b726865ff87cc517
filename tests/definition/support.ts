import { DefinitionError, parseDefinitions } from "../../src/definition/mod.ts";
import type { PipelineDefinition } from "../../src/definition/types.ts";
import { assertEquals, assertThrows } from "../assert.ts";

/** The fixtures directory, relative to the working directory (the repository root). */
export const FIXTURES = new URL("./fixtures/", import.meta.url);

/** The path messages use for a fixture: relative to the tests' directory. */
export function fixturePath(name: string): string {
  return `fixtures/${name}`;
}

/** Parses a fixture file; `file` in messages is `fixtures/NAME`. */
export function parseFixture(name: string): Map<string, PipelineDefinition> {
  const text = Deno.readTextFileSync(new URL(name, FIXTURES));
  return parseDefinitions(text, fixturePath(name));
}

/** Asserts that parsing the fixture fails with exactly these message lines. */
export function assertFixtureErrors(name: string, lines: string[]): DefinitionError {
  const error = assertThrows(() => parseFixture(name), DefinitionError);
  assertEquals(error.message.split("\n"), lines);
  assertEquals(error.issues.length, lines.length);
  return error;
}
