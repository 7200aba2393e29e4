/**
 * Parsers of numeric command-line options for commander: a value out of range is refused with
 * the option's name and the range, before anything starts.
 */
import { InvalidArgumentError } from 'commander';

/** A number from min to max (inclusive); integer: whole numbers only. */
export function number(name: string, min: number, max: number, integer: boolean) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed < min || parsed > max || (integer && !Number.isInteger(parsed))) {
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return parsed;
  };
}

export const integer = (name: string, min: number, max: number) => number(name, min, max, true);
export const port = (name: string) => number(name, 0, 65535, true);
/** A number > 0 (bandwidths, intervals). */
export function positive(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`${name} must be a number above 0`);
    return parsed;
  };
}
