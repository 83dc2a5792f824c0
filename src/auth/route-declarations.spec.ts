import { jest } from '@jest/globals';
import { Controller, Get, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Public, REQUIRED_SCOPES, IS_PUBLIC, Scopes } from './auth.decorators.js';
import { RouteDeclarations } from './route-declarations.js';

@Scopes('files:read')
class BaseController {
  @Get('open')
  @Public()
  open(): void {}

  @Get('scoped')
  scoped(): void {}
}

@Controller('base')
class ReadController extends BaseController {}

@Controller('other')
@Scopes('files:write')
class WriteController extends BaseController {}

/** What Nest hands a guard for a request to `handler` of `type`. */
function contextOf(type: object, handler: object): ExecutionContext {
  return { getClass: () => type, getHandler: () => handler } as unknown as ExecutionContext;
}

describe('RouteDeclarations', () => {
  it("reads a handler's declaration, else its controller's, else nothing", () => {
    const declarations = new RouteDeclarations(new Reflector());
    const open = contextOf(ReadController, BaseController.prototype.open);
    const scoped = contextOf(ReadController, BaseController.prototype.scoped);
    expect(declarations.get<boolean>(IS_PUBLIC, open)).toBe(true);
    expect(declarations.get<boolean>(IS_PUBLIC, scoped)).toBeUndefined();
    expect(declarations.get(REQUIRED_SCOPES, scoped)).toEqual(['files:read']);
  });

  it('answers the same again, from what it kept', () => {
    const reflector = new Reflector();
    const declarations = new RouteDeclarations(reflector);
    const scoped = contextOf(ReadController, BaseController.prototype.scoped);
    const first = declarations.get(REQUIRED_SCOPES, scoped);
    const read = jest.spyOn(reflector, 'getAllAndOverride');
    expect(declarations.get(REQUIRED_SCOPES, scoped)).toBe(first);
    expect(declarations.get(IS_PUBLIC, scoped)).toBeUndefined();
    // Only the key it had not read yet.
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('keeps apart a handler that two controllers declare differently', () => {
    const declarations = new RouteDeclarations(new Reflector());
    const handler = BaseController.prototype.scoped;
    expect(declarations.get(REQUIRED_SCOPES, contextOf(ReadController, handler))).toEqual([
      'files:read',
    ]);
    expect(declarations.get(REQUIRED_SCOPES, contextOf(WriteController, handler))).toEqual([
      'files:write',
    ]);
    expect(declarations.get(REQUIRED_SCOPES, contextOf(ReadController, handler))).toEqual([
      'files:read',
    ]);
  });
});
