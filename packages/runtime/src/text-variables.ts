// Text variables that name something (an interface, a directory, a consumer group). A stray space
// from a .env line or a secret's trailing newline made another name, unseen: `METERING_CONSUMER_GROUP=
// 'metering '` is a second group, and the first, abandoned, holds the embedded bus's trimming back.
// So spaces around the value, or nothing but spaces, are refused naming the variable; '' stays unset.
import { z } from 'zod';
import { blankToUndefined } from './config.ts';

/** What is wrong with spaces in `text`, if anything. */
function spacesProblem(text: string, fallback: string): string | undefined {
  if (text.trim() === '') return `is only spaces: leave it empty or unset for the default (${fallback})`;
  if (text !== text.trim()) return `has spaces around it (${JSON.stringify(text)}): remove them`;
  return undefined;
}

/** A text setting, `fallback` when unset or empty; spaces around it or only spaces are refused. */
export const textWithDefault = (fallback: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(fallback)
      .superRefine((text, ctx) => {
        const problem = spacesProblem(text, fallback);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
  );

/** Kafka's legal name characters (its topics'; a group id outside them is refused by many tools and ACLs). */
const KAFKA_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** A Kafka consumer group id (also the embedded bus's), `fallback` when unset or empty. */
export const consumerGroup = (fallback: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(fallback)
      .superRefine((text, ctx) => {
        const problem =
          spacesProblem(text, fallback) ??
          (KAFKA_NAME.test(text)
            ? undefined
            : `expected a consumer group id (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-'), got ${JSON.stringify(text)}`);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
  );
