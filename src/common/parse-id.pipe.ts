import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { isUUID } from 'class-validator';

/**
 * A UUID path parameter, in lowercase: PostgreSQL's uuid type and SQLite's text column then
 * find the same row. Anything else is a 400, before any lookup.
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUUID(value)) throw new BadRequestException('the id must be a UUID');
    return value.toLowerCase();
  }
}
