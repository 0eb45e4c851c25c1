// An endpoint's URL may carry basic-auth credentials (https://user:pass@host/…),
// as Stripe allows: a proxy in front of the receiver checks them. Stripe sends
// them as an `Authorization: Basic` header to the URL without them (fetch
// refuses a URL with credentials), and a log line shows the URL with its
// password masked. Pure: no I/O.

/** `url` with its password masked (`user:***@`), for a log line. */
export function shownUrl(url: string): string {
  const copy = new URL(url);
  if (copy.password !== '') copy.password = '***';
  return copy.toString();
}

export interface DeliveryTarget {
  /** Where to POST: the endpoint's URL without credentials. */
  url: string;
  /** `Basic base64(user:pass)` when the URL had credentials. */
  authorization: string | undefined;
}

/** Where, and with which Authorization header, an event is POSTed to the endpoint at `url`. */
export function deliveryTarget(url: string): DeliveryTarget {
  const target = new URL(url);
  if (target.username === '' && target.password === '') return { url, authorization: undefined };
  // URL keeps them percent-encoded (`p%40ss`); the header carries the bytes they stand for.
  const credentials = Buffer.concat([percentDecode(target.username), Buffer.from(':'), percentDecode(target.password)]);
  target.username = '';
  target.password = '';
  return { url: target.toString(), authorization: `Basic ${credentials.toString('base64')}` };
}

const HEX = /^[0-9a-fA-F]{2}$/;

/** The URL standard's percent-decode: `%XX` is that byte; any other `%` stays as it is. Never throws. */
function percentDecode(text: string): Buffer {
  const input = Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const hex = input.subarray(i + 1, i + 3).toString('latin1');
    if (input[i] === 0x25 && HEX.test(hex)) {
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      out.push(input[i]!);
    }
  }
  return Buffer.from(out);
}
