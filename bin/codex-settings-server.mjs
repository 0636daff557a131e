#!/usr/bin/env node
// The server, compiled: configuration from the environment (see the README).
import "../dist/src/main.js";
