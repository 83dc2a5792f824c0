import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { DISPOSITIONS, type Disposition } from '../../common/content-disposition.js';
import type { SignedLinkQuery } from '../links/signed-links.js';

/**
 * The queries of the download routes, checked here rather than by the global ValidationPipe:
 * class-transformer and class-validator cost a few percent of a small download, for one or three
 * strings. The same rules and messages: unknown parameters and repeated ones are a 400.
 */
function checkedQuery(query: Record<string, unknown>, names: readonly string[]): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (!names.includes(name)) problems.push(`property ${name} should not exist`);
    else if (typeof value !== 'string') problems.push(`${name} must be a string`);
  }
  if (problems.length > 0) throw new BadRequestException(problems);
}

/** `?disposition=attachment|inline` of an authenticated download; attachment by default. */
@Injectable()
export class DispositionQueryPipe implements PipeTransform<Record<string, unknown>, Disposition> {
  transform(query: Record<string, unknown>): Disposition {
    checkedQuery(query, ['disposition']);
    const { disposition = 'attachment' } = query;
    if (!DISPOSITIONS.includes(disposition as Disposition)) {
      throw new BadRequestException(['disposition must be attachment or inline']);
    }
    return disposition as Disposition;
  }
}

/** A signed link's query, as it comes: the signature decides whether any of it is valid. */
@Injectable()
export class SignedLinkQueryPipe implements PipeTransform<
  Record<string, unknown>,
  SignedLinkQuery
> {
  transform(query: Record<string, unknown>): SignedLinkQuery {
    checkedQuery(query, ['expires', 'disposition', 'kid', 'signature']);
    return query;
  }
}
