import { ApiProperty } from '@nestjs/swagger';

/** Every error the API sends, in Nest's shape. */
export class ErrorDto {
  @ApiProperty({ example: 404 })
  statusCode!: number;

  @ApiProperty({ example: 'Not Found' })
  error!: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'file not found',
    description: 'What went wrong; a list of problems for validation errors',
  })
  message!: string | string[];
}
