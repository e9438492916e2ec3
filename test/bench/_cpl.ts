import { measureCallsPerLink, printCallsPerLink } from './scale';
printCallsPerLink(await measureCallsPerLink());
