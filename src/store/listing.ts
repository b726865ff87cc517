/**
 * Building a job's listing bytes, shared by the store backends: a job whose listing cannot be
 * built is reported as damaged and left out of listings instead of failing them.
 *
 * @module
 */
import type { Job } from "../engine/job.ts";
import { StoreReadError } from "./errors.ts";
import type { ListingEncoder } from "./types.ts";

/**
 * `job`'s listing bytes from `listing`, or `null` when the encoder throws; that job is then
 * reported to `onDamaged`.
 *
 * @example
 * ```ts
 * const bytes = listingOrReport(jobListingEncoder, job, (error) => console.warn(error.message));
 * ```
 */
export function listingOrReport(
  listing: ListingEncoder,
  job: Job,
  onDamaged: (error: StoreReadError) => void,
): Uint8Array | null {
  try {
    return listing.encode(job);
  } catch (error) {
    onDamaged(
      new StoreReadError(job.id, `its API JSON cannot be built (${(error as Error).message})`),
    );
    return null;
  }
}
