/**
 * metav1.MicroTime wants exactly six fractional digits, and client-node would send a Date with
 * three (refused: "cannot parse .829Z as .000000"). Its serializer passes strings through, so
 * hand it the right string typed as the Date it declares.
 */
export function microTime(d: Date): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}
