//! Tests of the report reader, on runners' real output where it could be
//! produced here (each hand-written sample says so).

use super::*;

// Real outputs, produced on a Linux machine with Python 3.11 (3.12 for
// `UNITTEST_ZERO_312`), pytest 9.2, cargo 1.95, go 1.19, node 20, vitest
// 4.1, vite 8.4 and jest 30, copied verbatim except where a long run of
// identical stack frames was cut to one or two frames. The few
// hand-written samples are inline in their tests and marked as such.

const UNITTEST_FAIL: &str = r##"test_add (tests.test_calc.TestCalc.test_add) ... ok
test_add_wrong (tests.test_calc.TestCalc.test_add_wrong) ... FAIL
test_error (tests.test_calc.TestCalc.test_error) ... ERROR
test_ok2 (tests.test_calc.TestCalc.test_ok2) ... ok
test_skip (tests.test_calc.TestCalc.test_skip) ... skipped 'later'

======================================================================
ERROR: test_error (tests.test_calc.TestCalc.test_error)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/samples/py/tests/test_calc.py", line 10, in test_error
raise ValueError("boom")
ValueError: boom

======================================================================
FAIL: test_add_wrong (tests.test_calc.TestCalc.test_add_wrong)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/samples/py/tests/test_calc.py", line 8, in test_add_wrong
self.assertEqual(add(2, 2), 5)
AssertionError: 4 != 5

----------------------------------------------------------------------
Ran 5 tests in 0.001s

FAILED (failures=1, errors=1, skipped=1)
"##;

const UNITTEST_ZERO: &str = r##"
----------------------------------------------------------------------
Ran 0 tests in 0.000s

OK
"##;

const UNITTEST_ZERO_312: &str = r##"
----------------------------------------------------------------------
Ran 0 tests in 0.000s

NO TESTS RAN
"##;

const UNITTEST_SYNTAX: &str = r##"tests.test_syn (unittest.loader._FailedTest.tests.test_syn) ... ERROR

======================================================================
ERROR: tests.test_syn (unittest.loader._FailedTest.tests.test_syn)
----------------------------------------------------------------------
ImportError: Failed to import test module: tests.test_syn
Traceback (most recent call last):
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 419, in _find_test_path
module = self._get_module_from_name(name)
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 362, in _get_module_from_name
__import__(name)
  File "/tmp/samples/pc/tests/test_syn.py", line 1, in <module>
from app.bad import f
  File "/tmp/samples/pc/app/bad.py", line 1
def f(:
      ^
SyntaxError: invalid syntax


----------------------------------------------------------------------
Ran 1 test in 0.000s

FAILED (errors=1)
"##;

const UNITTEST_MODULE_NOT_FOUND: &str = r##"tests.test_sql (unittest.loader._FailedTest.tests.test_sql) ... ERROR

======================================================================
ERROR: tests.test_sql (unittest.loader._FailedTest.tests.test_sql)
----------------------------------------------------------------------
ImportError: Failed to import test module: tests.test_sql
Traceback (most recent call last):
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 419, in _find_test_path
module = self._get_module_from_name(name)
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 362, in _get_module_from_name
__import__(name)
  File "/tmp/samples/pc/tests/test_sql.py", line 2, in <module>
import sqlmodel
ModuleNotFoundError: No module named 'sqlmodel'


----------------------------------------------------------------------
Ran 1 test in 0.000s

FAILED (errors=1)
"##;

const PYTEST_FAIL: &str = r##"============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.7.0
rootdir: /tmp/samples/pt
collected 14 items

tests/test_many.py ..........FFFs                                        [100%]

=================================== FAILURES ===================================
_________________________________ test_delete __________________________________

def test_delete():
>       assert 404 == 204
E       assert 404 == 204

tests/test_many.py:8: AssertionError
_________________________________ test_create __________________________________

def test_create():
    d = {"id": 1}
>       assert d["id"] == 2, "wrong id"
E       AssertionError: wrong id
E       assert 1 == 2

tests/test_many.py:12: AssertionError
__________________________________ test_raise __________________________________

def test_raise():
>       raise KeyError("user")
E       KeyError: 'user'

tests/test_many.py:15: KeyError
=========================== short test summary info ============================
FAILED tests/test_many.py::test_delete - assert 404 == 204
FAILED tests/test_many.py::test_create - AssertionError: wrong id
FAILED tests/test_many.py::test_raise - KeyError: 'user'
=================== 3 failed, 10 passed, 1 skipped in 0.05s ====================
"##;

const PYTEST_FAIL_Q: &str = r##"..........FFFs                                                           [100%]
=================================== FAILURES ===================================
_________________________________ test_delete __________________________________

def test_delete():
>       assert 404 == 204
E       assert 404 == 204

tests/test_many.py:8: AssertionError
_________________________________ test_create __________________________________

def test_create():
    d = {"id": 1}
>       assert d["id"] == 2, "wrong id"
E       AssertionError: wrong id
E       assert 1 == 2

tests/test_many.py:12: AssertionError
__________________________________ test_raise __________________________________

def test_raise():
>       raise KeyError("user")
E       KeyError: 'user'

tests/test_many.py:15: KeyError
=========================== short test summary info ============================
FAILED tests/test_many.py::test_delete - assert 404 == 204
FAILED tests/test_many.py::test_create - AssertionError: wrong id
FAILED tests/test_many.py::test_raise - KeyError: 'user'
3 failed, 10 passed, 1 skipped in 0.04s
"##;

const PYTEST_ZERO: &str = r##"============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.7.0
rootdir: /tmp/samples/empty
collected 0 items

============================ no tests ran in 0.01s =============================
"##;

const PYTEST_ZERO_Q: &str = r##"
no tests ran in 0.00s
"##;

const PYTEST_MODULE_NOT_FOUND: &str = r##"
==================================== ERRORS ====================================
_____________________ ERROR collecting tests/test_flask.py _____________________
ImportError while importing test module '/tmp/samples/pc/tests/test_flask.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
return _bootstrap._gcd_import(name[level:], package, level)
       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tests/test_flask.py:1: in <module>
import sqlmodel
E   ModuleNotFoundError: No module named 'sqlmodel'
=========================== short test summary info ============================
ERROR tests/test_flask.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
1 error in 0.15s
"##;

const PYTEST_IMPORT_ERROR: &str = r##"
==================================== ERRORS ====================================
______________________ ERROR collecting tests/test_imp.py ______________________
ImportError while importing test module '/tmp/samples/pc/tests/test_imp.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
return _bootstrap._gcd_import(name[level:], package, level)
       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tests/test_imp.py:1: in <module>
from app.api import get_todos
E   ImportError: cannot import name 'get_todos' from 'app.api' (/tmp/samples/pc/app/api.py)
=========================== short test summary info ============================
ERROR tests/test_imp.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
1 error in 0.12s
"##;

const PYTEST_SYNTAX: &str = r##"
==================================== ERRORS ====================================
______________________ ERROR collecting tests/test_syn.py ______________________
/tmp/venv/lib/python3.11/site-packages/_pytest/python.py:528: in importtestmodule
mod = import_path(
/tmp/venv/lib/python3.11/site-packages/_pytest/pathlib.py:640: in import_path
importlib.import_module(module_name)
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
return _bootstrap._gcd_import(name[level:], package, level)
       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
<frozen importlib._bootstrap>:1204: in _gcd_import
???
/tmp/venv/lib/python3.11/site-packages/_pytest/assertion/rewrite.py:185: in exec_module
exec(co, module.__dict__)
tests/test_syn.py:1: in <module>
from app.bad import f
E     File "/tmp/samples/pc/app/bad.py", line 1
E       def f(:
E             ^
E   SyntaxError: invalid syntax
=========================== short test summary info ============================
ERROR tests/test_syn.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
1 error in 0.17s
"##;

const CARGO_FAIL: &str = r##"   Compiling cr v0.1.0 (/tmp/samples/cr)
Finished `test` profile [unoptimized + debuginfo] target(s) in 0.29s
 Running unittests src/lib.rs (target/debug/deps/cr-f73a538893013b88)

running 4 tests
test tests::adds ... ok
test tests::adds_wrong ... FAILED
test tests::panics ... FAILED
test tests::slow ... ignored

failures:

---- tests::adds_wrong stdout ----

thread 'tests::adds_wrong' (29696) panicked at src/lib.rs:7:31:
assertion `left == right` failed: two and two
  left: 4
 right: 5
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- tests::panics stdout ----

thread 'tests::panics' (29697) panicked at src/lib.rs:9:27:
boom


failures:
tests::adds_wrong
tests::panics

test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--lib`
"##;

const CARGO_PASS: &str = r##"   Compiling cr v0.1.0 (/tmp/samples/cr)
Finished `test` profile [unoptimized + debuginfo] target(s) in 0.27s
 Running unittests src/lib.rs (target/debug/deps/cr-f73a538893013b88)

running 4 tests
test tests::adds_wrong ... ok
test tests::adds ... ok
test tests::panics ... ok
test tests::slow ... ignored

test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

 Running tests/it.rs (target/debug/deps/it-c402cc767e4d8483)

running 1 test
test integration ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests cr

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

"##;

const CARGO_ZERO: &str = r##"    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.01s
 Running unittests src/lib.rs (target/debug/deps/cr0-7ae30d26c2930a31)

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests cr0

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

"##;

const CARGO_BUILD: &str = r##"   Compiling crbad v0.1.0 (/tmp/samples/crbad)
error[E0425]: cannot find value `c` in this scope
 --> src/lib.rs:1:41
  |
1 | pub fn add(a: u32, b: u32) -> u32 { a + c }
  |                                         ^
  |
help: a local variable with a similar name exists
  |
1 - pub fn add(a: u32, b: u32) -> u32 { a + c }
1 + pub fn add(a: u32, b: u32) -> u32 { a + a }
  |

For more information about this error, try `rustc --explain E0425`.
error: could not compile `crbad` (lib) due to 1 previous error
warning: build failed, waiting for other jobs to finish...
error: could not compile `crbad` (lib test) due to 1 previous error
"##;

const CARGO_OFFLINE: &str = r##"error: no matching package named `clap` found
location searched: crates.io index
required by package `crclap v0.1.0 (/tmp/samples/crclap)`
As a reminder, you're using offline mode (--offline) which can sometimes cause surprising resolution failures, if this error is too confusing you may wish to retry without `--offline`.
"##;

const CARGO_NO_NETWORK: &str = r##"    Updating crates.io index
warning: spurious network error (3 tries remaining): [6] Could not resolve hostname (Could not resolve host: index.crates.io)
warning: spurious network error (2 tries remaining): [6] Could not resolve hostname (Could not resolve host: index.crates.io)
warning: spurious network error (1 try remaining): [6] Could not resolve hostname (Could not resolve host: index.crates.io)
error: failed to get `clap` as a dependency of package `crclap v0.1.0 (/tmp/samples/crclap)`

Caused by:
  download of config.json failed

Caused by:
  failed to download from `https://index.crates.io/config.json`

Caused by:
  [6] Could not resolve hostname (Could not resolve host: index.crates.io)
"##;

const CARGO_OFFLINE_DOWNLOAD: &str = r##"error: failed to download `anstream v1.0.1`

Caused by:
  attempting to make an HTTP request, but --offline was specified
"##;

const GO_FAIL: &str = r##"--- FAIL: TestSub (0.00s)
calc_test.go:13: Sub(2, 1) = 3; want 1
FAIL
FAIL	example.com/calc	0.002s
?   	example.com/calc/cmd	[no test files]
ok  	example.com/calc/util	0.001s
FAIL
"##;

const GO_FAIL_V: &str = r##"=== RUN   TestAdd
--- PASS: TestAdd (0.00s)
=== RUN   TestSub
calc_test.go:13: Sub(2, 1) = 3; want 1
--- FAIL: TestSub (0.00s)
=== RUN   TestSkip
calc_test.go:17: later
--- SKIP: TestSkip (0.00s)
FAIL
FAIL	example.com/calc	0.010s
?   	example.com/calc/cmd	[no test files]
=== RUN   TestTwice
--- PASS: TestTwice (0.00s)
PASS
ok  	example.com/calc/util	0.002s
FAIL
"##;

const GO_BUILD: &str = r##"# example.com/calc [example.com/calc.test]
./calc.go:3:37: undefined: y
./calc.go:4:37: undefined: y
FAIL	example.com/calc [build failed]
?   	example.com/calc/cmd	[no test files]
ok  	example.com/calc/util	(cached)
FAIL
"##;

const GO_SETUP: &str = r##"# example.com/calc/util
util/util_test.go:6:2: no required module provides package github.com/stretchr/testify/assert; to add it:
	go get github.com/stretchr/testify/assert
FAIL	example.com/calc/util [setup failed]
ok  	example.com/calc	0.002s
?   	example.com/calc/cmd	[no test files]
FAIL
"##;

const GO_ZERO: &str = r##"?   	example.com/calc/cmd	[no test files]
"##;

const NODE_FAIL: &str = r##"TAP version 13
# Subtest: adds
ok 1 - adds
  ---
  duration_ms: 0.963849
  ...
# Subtest: subtracts
not ok 2 - subtracts
  ---
  duration_ms: 1.118496
  location: '/tmp/samples/nt/test/a.test.js:4:1'
  failureType: 'testCodeFailure'
  error: |-
Expected values to be strictly equal:

1 !== 2

  code: 'ERR_ASSERTION'
  name: 'AssertionError'
  expected: 2
  actual: 1
  operator: 'strictEqual'
  stack: |-
TestContext.<anonymous> (/tmp/samples/nt/test/a.test.js:4:34)
  ...
# Subtest: later
ok 3 - later # SKIP
  ---
  duration_ms: 0.091217
  ...
# Subtest: todos
# Subtest: lists
ok 1 - lists
  ---
  duration_ms: 0.128476
  ...
1..1
ok 4 - todos
  ---
  duration_ms: 0.316825
  type: 'suite'
  ...
1..4
# tests 4
# suites 1
# pass 2
# fail 1
# cancelled 0
# skipped 1
# todo 0
# duration_ms 233.79831
"##;

const NODE_SPEC: &str = r##"✔ adds (17.092167ms)
✖ subtracts (1.22914ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
  at TestContext.<anonymous> (/tmp/samples/nt/test/a.test.js:4:34)
generatedMessage: true,
code: 'ERR_ASSERTION',
actual: 1,
expected: 2,
operator: 'strictEqual'
  }

﹣ later (0.101009ms) # SKIP
▶ todos
  ✔ lists (0.134875ms)
✔ todos (0.303025ms)
ℹ tests 4
ℹ suites 1
ℹ pass 2
ℹ fail 1
ℹ cancelled 0
ℹ skipped 1
ℹ todo 0
ℹ duration_ms 214.496106

✖ failing tests:

test at test/a.test.js:4:1
✖ subtracts (1.22914ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
  at TestContext.<anonymous> (/tmp/samples/nt/test/a.test.js:4:34)
generatedMessage: true,
code: 'ERR_ASSERTION',
actual: 1,
expected: 2,
operator: 'strictEqual'
  }
"##;

const NODE_MISSING_EXPORT: &str = r##"TAP version 13
# file:///tmp/samples/ntm/test/a.test.js:3
# import { getTodos } from '../src/api.js';
#          ^^^^^^^^
# SyntaxError: The requested module '../src/api.js' does not provide an export named 'getTodos'
#     at ModuleJob._instantiate (node:internal/modules/esm/module_job:213:21)
# Node.js v20.20.2
# Subtest: /tmp/samples/ntm/test/a.test.js
not ok 1 - /tmp/samples/ntm/test/a.test.js
  ---
  duration_ms: 128.522508
  location: '/tmp/samples/ntm/test/a.test.js:1:1'
  failureType: 'testCodeFailure'
  exitCode: 1
  signal: ~
  error: 'test failed'
  code: 'ERR_TEST_FAILURE'
  ...
1..1
# tests 1
# suites 0
# pass 0
# fail 1
# cancelled 0
# skipped 0
# todo 0
# duration_ms 141.138252
"##;

const NODE_MISSING_PACKAGE: &str = r##"TAP version 13
# node:internal/modules/esm/resolve:873
#   throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);
#         ^
# Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'express' imported from /tmp/samples/ntm/test/b.test.js
#     at packageResolve (node:internal/modules/esm/resolve:873:9)
#   code: 'ERR_MODULE_NOT_FOUND'
# }
# Node.js v20.20.2
# Subtest: /tmp/samples/ntm/test/b.test.js
not ok 1 - /tmp/samples/ntm/test/b.test.js
  ---
  duration_ms: 194.349433
  location: '/tmp/samples/ntm/test/b.test.js:1:1'
  failureType: 'testCodeFailure'
  exitCode: 1
  signal: ~
  error: 'test failed'
  code: 'ERR_TEST_FAILURE'
  ...
1..1
# tests 1
# suites 0
# pass 0
# fail 1
# cancelled 0
# skipped 0
# todo 0
# duration_ms 198.25804
"##;

const NODE_ZERO: &str = r##"TAP version 13
1..0
# tests 0
# suites 0
# pass 0
# fail 0
# cancelled 0
# skipped 0
# todo 0
# duration_ms 3.551797
"##;

const VITEST_MISSING_EXPORT: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt

 ❯ tests/api.test.js (3 tests | 1 failed | 1 skipped) 8ms
 ✓ lists 2ms
 × is wrong 5ms
 ↓ later
 ❯ tests/TodoPage.test.jsx (1 test | 1 failed) 4ms
 × renders no todos 3ms

⎯⎯⎯⎯⎯⎯⎯ Failed Tests 2 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  tests/TodoPage.test.jsx > TodoPage > renders no todos
TypeError: getTodos is not a function
 ❯ TodoPage src/components/TodoPage.jsx:4:10
  2|
  3| export function TodoPage() {
  4|   return getTodos().length;
   |          ^
  5| }
  6|
 ❯ tests/TodoPage.test.jsx:6:12

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/2]⎯

 FAIL  tests/api.test.js > api > is wrong
AssertionError: expected [] to deeply equal [ 1 ]

- Expected
+ Received

- [
-   1,
- ]
+ []

 ❯ tests/api.test.js:6:46
  4| describe('api', () => {
  5|   it('lists', () => { expect(listTodos()).toEqual([]); });
  6|   it('is wrong', () => { expect(listTodos()).toEqual([1]); });
   |                                              ^
  7|   it.skip('later', () => {});
  8| });

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[2/2]⎯


 Test Files  2 failed (2)
  Tests  2 failed | 1 passed | 1 skipped (4)
   Start at  20:29:42
   Duration  665ms (transform 47ms, setup 0ms, import 68ms, tests 13ms, environment 0ms)

"##;

const VITEST_MODULE_SCOPE: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt2

 ❯ tests/TodoPage.test.jsx (0 test)
 ✓ tests/api.test.js (1 test) 3ms

⎯⎯⎯⎯⎯⎯ Failed Suites 1 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  tests/TodoPage.test.jsx [ tests/TodoPage.test.jsx ]
TypeError: getTodos is not a function
 ❯ src/components/TodoPage.jsx:3:17
  1| import { getTodos } from '../api.js';
  2|
  3| const initial = getTodos();
   |                 ^
  4|
  5| export function TodoPage() {
 ❯ tests/TodoPage.test.jsx:2:1

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/1]⎯


 Test Files  1 failed | 1 passed (2)
  Tests  1 passed (1)
   Start at  20:34:30
   Duration  944ms (transform 29ms, setup 0ms, import 11ms, tests 3ms, environment 0ms)

"##;

const VITEST_NONE: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt3

No test files found, exiting with code 1

include: **/*.{test,spec}.?(c|m)[jt]s?(x)
exclude:  **/node_modules/**, **/.git/**

"##;

const VITEST_MISSING_MODULES: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt3

 ❯ tests/ax.test.js (0 test)
 ❯ tests/rel.test.js (0 test)

⎯⎯⎯⎯⎯⎯ Failed Suites 2 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  tests/ax.test.js [ tests/ax.test.js ]
Error: Cannot find package 'axios' imported from /tmp/samples/vt3/tests/ax.test.js
 ❯ tests/ax.test.js:2:1
  1| import { it, expect } from 'vitest';
  2| import axios from 'axios';
   | ^
  3| it('gets', () => { expect(axios).toBeTruthy(); });
  4|

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/2]⎯

 FAIL  tests/rel.test.js [ tests/rel.test.js ]
Error: Cannot find module '../src/missing.js' imported from /tmp/samples/vt3/tests/rel.test.js
 ❯ tests/rel.test.js:2:1
  1| import { it, expect } from 'vitest';
  2| import { y } from '../src/missing.js';
   | ^
  3| it('y', () => { expect(y).toBe(1); });
  4|

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[2/2]⎯


 Test Files  2 failed (2)
  Tests  no tests
   Start at  20:34:35
   Duration  900ms (transform 53ms, setup 0ms, import 0ms, tests 0ms, environment 0ms)

"##;

const VITEST_PARSE_ERROR: &str = r##"
 RUN  v4.1.12 /tmp/samples/vt3

 ❯ tests/broken.test.jsx (0 test)

⎯⎯⎯⎯⎯⎯ Failed Suites 1 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  tests/broken.test.jsx [ tests/broken.test.jsx ]
Error: Transform failed with 1 error:

[PARSE_ERROR] Unexpected token
   ╭─[ src/broken.jsx:2:17 ]
   │
 2 │   return <div>{</div>;
   │                 ┬  
   │                 ╰── 
───╯

  Plugin: vite:oxc
  File: /tmp/samples/vt3/src/broken.jsx
 ❯ transformWithOxc ../vt/node_modules/vite/dist/node/chunks/node.js:7061:19

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/1]⎯


 Test Files  1 failed (1)
  Tests  no tests
   Start at  20:34:37
   Duration  418ms (transform 60ms, setup 0ms, import 0ms, tests 0ms, environment 0ms)

"##;

const VITE_BUILD_MISSING_EXPORT: &str = r##"vite v8.4.1 building client environment for production...
transforming...
✓ 6 modules transformed.
rendering chunks...
✗ Build failed in 87ms
error during build:
Build failed with 1 error:

[MISSING_EXPORT] "getTodos" is not exported by "src/api.js".
   ╭─[ src/components/TodoPage.jsx:1:10 ]
   │
 1 │ import { getTodos } from "../api.js";
   │          ────┬───  
   │              ╰───── Missing export
───╯

at aggregateBindingErrorsIntoJsError (file:///tmp/samples/vt/node_modules/rolldown/dist/shared/error-z4CTM_u3.mjs:110:18)
  errors: [Getter/Setter]
}
"##;

const JEST_FAIL: &str = r##"FAIL __tests__/api.test.js
  api
✓ lists (2 ms)
✕ counts (1 ms)
✓ more (1 ms)
○ skipped later

  ● api › counts

expect(received).toBe(expected) // Object.is equality

Expected: 1
Received: 0

  2 | describe('api', () => {
  3 |   test('lists', () => { expect(listTodos()).toEqual([]); });
> 4 |   test('counts', () => { expect(listTodos().length).toBe(1); });
    |                                                     ^
  5 |   test.skip('later', () => {});
  6 |   test('more', () => { expect(1).toBe(1); });
  7 | });

  at Object.toBe (__tests__/api.test.js:4:53)

Test Suites: 1 failed, 1 total
Tests:       1 failed, 1 skipped, 2 passed, 4 total
Snapshots:   0 total
Time:        0.398 s, estimated 1 s
Ran all test suites.
"##;

const JEST_MISSING_PACKAGE: &str = r##"FAIL __tests__/api.test.js
  ● api › counts

expect(received).toBe(expected) // Object.is equality

Expected: 1
Received: 0

  2 | describe('api', () => {
  3 |   test('lists', () => { expect(listTodos()).toEqual([]); });
> 4 |   test('counts', () => { expect(listTodos().length).toBe(1); });
    |                                                     ^
  5 |   test.skip('later', () => {});
  6 |   test('more', () => { expect(1).toBe(1); });
  7 | });

  at Object.toBe (__tests__/api.test.js:4:53)

FAIL __tests__/ax.test.js
  ● Test suite failed to run

Cannot find module 'axios' from '__tests__/ax.test.js'

> 1 | const axios = require('axios');
    |               ^
  2 | test('gets', () => { expect(axios).toBeTruthy(); });
  3 |

  at Resolver._throwModNotFoundError (node_modules/jest-resolve/build/index.js:1031:11)
  at Object.require (__tests__/ax.test.js:1:15)

Test Suites: 2 failed, 2 total
Tests:       1 failed, 1 skipped, 2 passed, 4 total
Snapshots:   0 total
Time:        0.942 s, estimated 1 s
Ran all test suites.
"##;

const JEST_PASS: &str = r##"PASS __tests__/api.test.js
  api
✓ lists (15 ms)
✓ counts (1 ms)
✓ more (1 ms)
○ skipped later

Test Suites: 1 passed, 1 total
Tests:       1 skipped, 3 passed, 4 total
Snapshots:   0 total
Time:        0.568 s, estimated 1 s
Ran all test suites.
"##;

const JEST_NONE: &str = r##"No tests found, exiting with code 1
Run with `--passWithNoTests` to exit with code 0
In /tmp/samples/jt0
  1 file checked.
  testMatch: **/__tests__/**/*.?([mc])[jt]s?(x), **/?(*.)+(spec|test).?([mc])[jt]s?(x) - 0 matches
  testPathIgnorePatterns: /node_modules/ - 1 match
  testRegex:  - 0 matches
Pattern:  - 0 matches
"##;

const PIP_NO_DISTRIBUTION: &str = r##"Looking in links: /opt/wheels
ERROR: Could not find a version that satisfies the requirement flask (from versions: none)
ERROR: No matching distribution found for flask
"##;

const NPM_NO_NETWORK: &str = r##"npm error code EAI_AGAIN
npm error syscall getaddrinfo
npm error errno EAI_AGAIN
npm error request to https://registry.npmjs.org/express failed, reason: getaddrinfo EAI_AGAIN registry.npmjs.org
npm error A complete log of this run can be found in: /tmp/npmcache-empty2/_logs/2026-12-06T20_34_55_193Z-debug-0.log
"##;

const VITEST_COLOURED: &str = "\x1b[41m\x1b[1m FAIL \x1b[22m\x1b[49m tests/TodoPage.test.jsx\x1b[2m > \x1b[22mTodoPage\x1b[2m > \x1b[22mrenders no todos
\x1b[31m\x1b[1mTypeError\x1b[22m: getTodos is not a function\x1b[39m
\x1b[41m\x1b[1m FAIL \x1b[22m\x1b[49m tests/api.test.js\x1b[2m > \x1b[22mapi\x1b[2m > \x1b[22mis wrong
\x1b[2m Test Files \x1b[22m \x1b[1m\x1b[31m2 failed\x1b[39m\x1b[22m\x1b[90m (2)\x1b[39m
\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[31m2 failed\x1b[39m\x1b[22m\x1b[2m | \x1b[22m\x1b[1m\x1b[32m1 passed\x1b[39m\x1b[22m\x1b[2m | \x1b[22m\x1b[33m1 skipped\x1b[39m\x1b[90m (4)\x1b[39m
";

fn verdict(output: &str, exit: Option<i32>) -> Verdict {
    classify(output, exit, &parse(output), &[])
}

fn paths(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

fn counts(r: &Report) -> (u32, u32, u32) {
    (r.passed, r.failed, r.skipped)
}

#[test]
fn runners_are_read_from_command_lines() {
    for (command, runner) in [
        ("python3 -m pytest -q", Runner::Pytest),
        (".venv/bin/python -m pytest tests", Runner::Pytest),
        ("pytest", Runner::Pytest),
        (
            "cd backend && PYTHONPATH=. .venv/bin/pytest -x",
            Runner::Pytest,
        ),
        ("python3 -m pytest || true", Runner::Pytest),
        ("python3 -m unittest discover -v", Runner::Unittest),
        ("cargo test --offline", Runner::Cargo),
        ("cargo nextest run", Runner::Cargo),
        ("go test ./...", Runner::Go),
        ("go test ./... | tee test.log", Runner::Go),
        ("npx vitest run --config x", Runner::Vitest),
        (
            "cd frontend && npm ci; npx vitest@1.6.0 run",
            Runner::Vitest,
        ),
        ("npx jest", Runner::Jest),
        ("node --test", Runner::NodeTest),
        ("env CI=1 timeout 60 node --test test/", Runner::NodeTest),
        ("npm test", Runner::Other),
        ("make test", Runner::Other),
        ("pytest && npm test", Runner::Other),
        ("cargo build", Runner::Other),
        ("node server.js", Runner::Other),
        ("", Runner::Other),
    ] {
        assert_eq!(Runner::from_command(command), runner, "{command}");
    }
    assert_eq!(Runner::NodeTest.name(), "node --test");
    assert_eq!(Runner::Cargo.name(), "cargo test");
    assert_eq!(Runner::Pytest.name(), "pytest");
    assert_eq!(
        serde_json::to_string(&Runner::NodeTest).ok().as_deref(),
        Some("\"node_test\"")
    );
}

#[test]
fn clean_line_strips_escapes_and_controls() {
    // OSC 52 (write the clipboard), clear screen, colour, bidi override.
    assert_eq!(clean_line("\x1b]52;c;ZXZpbA==\x07safe"), "safe");
    assert_eq!(clean_line("\x1b[2Jcleared"), "cleared");
    assert_eq!(clean_line("\x1b[31mred\x1b[0m text"), "red text");
    assert_eq!(clean_line("abc\u{202e}fed"), "abcfed");
    // OSC 8 hyperlinks ended by ESC \, DEC charset selection, keypad mode.
    assert_eq!(
        clean_line("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
        "link"
    );
    assert_eq!(clean_line("\x1b(Bplain\x1b="), "plain");
    // 8-bit CSI, NEL, DEL, NUL, CR; tab becomes a space; trailing space goes.
    assert_eq!(clean_line("x\u{9b}31my\u{85}z\x7f\x00\r"), "xyz");
    assert_eq!(clean_line("a\tb  \t"), "a b");
    assert_eq!(clean_line("\u{2066}a\u{2069}\u{202a}b"), "ab");
    // An OSC cut short by a new escape does not leak the new one.
    assert_eq!(clean_line("\x1b]2;title\x1b[31mred"), "red");
    // An unterminated OSC swallows the rest.
    assert_eq!(clean_line("ok\x1b]0;title"), "ok");
    assert_eq!(clean_line("❯ ✓ × é ⎯"), "❯ ✓ × é ⎯");
}

#[test]
fn unittest_failures_errors_and_skips_are_counted() {
    let r = parse(UNITTEST_FAIL);
    assert_eq!(counts(&r), (2, 2, 1));
    assert!(r.summary);
    assert_eq!(
        r.failures,
        paths(&[
            "test_error (tests.test_calc.TestCalc.test_error)",
            "test_add_wrong (tests.test_calc.TestCalc.test_add_wrong)",
        ])
    );
    let v = verdict(UNITTEST_FAIL, Some(1));
    assert_eq!(v.status, TestStatus::Failed);
    assert_eq!(
        v.lines,
        paths(&[
            "ERROR: test_error (tests.test_calc.TestCalc.test_error)",
            "ValueError: boom",
            "FAIL: test_add_wrong (tests.test_calc.TestCalc.test_add_wrong)",
            "AssertionError: 4 != 5",
            "FAILED (failures=1, errors=1, skipped=1)",
        ])
    );
}

#[test]
fn unittest_running_nothing_is_no_tests() {
    let r = parse(UNITTEST_ZERO);
    assert_eq!(counts(&r), (0, 0, 0));
    assert!(r.summary);
    let v = verdict(UNITTEST_ZERO, Some(0));
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(v.lines, paths(&["Ran 0 tests in 0.000s"]));
    // Python 3.12 says so and exits 5.
    let v = verdict(UNITTEST_ZERO_312, Some(5));
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(v.lines, paths(&["Ran 0 tests in 0.000s", "NO TESTS RAN"]));
    // Only skipped tests: nothing executed (hand-written).
    let skipped =
        "test_a (t.T.test_a) ... skipped 'later'\n\nRan 1 test in 0.000s\n\nOK (skipped=1)\n";
    assert_eq!(counts(&parse(skipped)), (0, 0, 1));
    let v = verdict(skipped, Some(0));
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(v.lines, paths(&["OK (skipped=1)"]));
}

#[test]
fn unittest_import_failures_are_build_or_setup_failures() {
    let r = parse(UNITTEST_SYNTAX);
    assert_eq!(counts(&r), (0, 1, 0));
    let v = verdict(UNITTEST_SYNTAX, Some(1));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "File \"/tmp/samples/pc/app/bad.py\", line 1",
            "SyntaxError: invalid syntax",
        ])
    );

    let v = verdict(UNITTEST_MODULE_NOT_FOUND, Some(1));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "File \"/tmp/samples/pc/tests/test_sql.py\", line 2, in <module>",
            "ModuleNotFoundError: No module named 'sqlmodel'",
        ])
    );
    // The same message for a module of the project is an import error.
    let known = paths(&["sqlmodel/__init__.py", "tests/test_sql.py"]);
    let r = parse(UNITTEST_MODULE_NOT_FOUND);
    let v = classify(UNITTEST_MODULE_NOT_FOUND, Some(1), &r, &known);
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines.last().map(String::as_str),
        Some("ModuleNotFoundError: No module named 'sqlmodel'")
    );
}

#[test]
fn pytest_failures_are_counted_with_names_in_both_forms() {
    let names = paths(&[
        "tests/test_many.py::test_delete",
        "tests/test_many.py::test_create",
        "tests/test_many.py::test_raise",
    ]);
    for (output, summary) in [
        (
            PYTEST_FAIL,
            "=================== 3 failed, 10 passed, 1 skipped in 0.05s ====================",
        ),
        (PYTEST_FAIL_Q, "3 failed, 10 passed, 1 skipped in 0.04s"),
    ] {
        let r = parse(output);
        assert_eq!(counts(&r), (10, 3, 1));
        assert_eq!(r.failures, names);
        let v = verdict(output, Some(1));
        assert_eq!(v.status, TestStatus::Failed);
        assert_eq!(
            v.lines,
            paths(&[
                "FAILED tests/test_many.py::test_delete - assert 404 == 204",
                "FAILED tests/test_many.py::test_create - AssertionError: wrong id",
                "FAILED tests/test_many.py::test_raise - KeyError: 'user'",
                summary,
            ])
        );
    }
}

#[test]
fn pytest_running_nothing_is_no_tests() {
    for (output, line) in [
        (
            PYTEST_ZERO,
            "============================ no tests ran in 0.01s =============================",
        ),
        (PYTEST_ZERO_Q, "no tests ran in 0.00s"),
    ] {
        let r = parse(output);
        assert!(r.summary);
        assert_eq!(counts(&r), (0, 0, 0));
        let v = verdict(output, Some(5));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(v.lines, paths(&[line]));
    }
}

#[test]
fn pytest_collection_errors_are_setup_or_build_failures() {
    let r = parse(PYTEST_MODULE_NOT_FOUND);
    assert_eq!(counts(&r), (0, 1, 0));
    assert_eq!(r.failures, paths(&["tests/test_flask.py"]));
    let v = verdict(PYTEST_MODULE_NOT_FOUND, Some(2));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "tests/test_flask.py:1: in <module>",
            "E   ModuleNotFoundError: No module named 'sqlmodel'",
        ])
    );

    let v = verdict(PYTEST_IMPORT_ERROR, Some(2));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "tests/test_imp.py:1: in <module>",
            "E   ImportError: cannot import name 'get_todos' from 'app.api' (/tmp/samples/pc/app/api.py)",
        ])
    );

    let v = verdict(PYTEST_SYNTAX, Some(2));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "E     File \"/tmp/samples/pc/app/bad.py\", line 1",
            "E   SyntaxError: invalid syntax",
        ])
    );
    let known = paths(&["app/__init__.py", "app/bad.py", "tests/test_syn.py"]);
    assert_eq!(
        named_paths(PYTEST_SYNTAX, "", &known),
        paths(&["tests/test_syn.py", "app/bad.py"])
    );
}

#[test]
fn cargo_results_are_summed_with_names_and_panics() {
    let r = parse(CARGO_FAIL);
    assert_eq!(counts(&r), (1, 2, 1));
    assert_eq!(r.failures, paths(&["tests::adds_wrong", "tests::panics"]));
    let v = verdict(CARGO_FAIL, Some(101));
    assert_eq!(v.status, TestStatus::Failed);
    assert_eq!(
        v.lines,
        paths(&[
            "---- tests::adds_wrong stdout ----",
            "thread 'tests::adds_wrong' (29696) panicked at src/lib.rs:7:31:",
            "assertion `left == right` failed: two and two",
            "---- tests::panics stdout ----",
            "thread 'tests::panics' (29697) panicked at src/lib.rs:9:27:",
            "boom",
            "test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        ])
    );

    // Unit tests, an integration test and empty doc-tests: three lines summed.
    let r = parse(CARGO_PASS);
    assert_eq!(counts(&r), (4, 0, 1));
    let v = verdict(CARGO_PASS, Some(0));
    assert_eq!(v.status, TestStatus::Passed);
    assert_eq!(
        v.lines,
        paths(&[
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s"
        ])
    );
}

#[test]
fn cargo_running_nothing_is_no_tests() {
    let r = parse(CARGO_ZERO);
    assert!(r.summary);
    assert_eq!(counts(&r), (0, 0, 0));
    let v = verdict(CARGO_ZERO, Some(0));
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(
        v.lines,
        paths(&[
            "running 0 tests",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        ])
    );
    // Hand-written: only the `running 0 tests` lines.
    let v = verdict("running 0 tests\n\nrunning 0 tests\n", Some(0));
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(v.lines, paths(&["running 0 tests"]));
}

#[test]
fn cargo_compile_errors_are_build_failures() {
    let v = verdict(CARGO_BUILD, Some(101));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "error[E0425]: cannot find value `c` in this scope",
            "--> src/lib.rs:1:41",
        ])
    );
    let known = paths(&["Cargo.toml", "src/lib.rs"]);
    assert_eq!(named_paths(CARGO_BUILD, "", &known), paths(&["src/lib.rs"]));
}

#[test]
fn cargo_dependency_failures_are_setup_failures() {
    let v = verdict(CARGO_OFFLINE, Some(101));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&["error: no matching package named `clap` found"])
    );

    let v = verdict(CARGO_NO_NETWORK, Some(101));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "error: failed to get `clap` as a dependency of package `crclap v0.1.0 (/tmp/samples/crclap)`",
            "failed to download from `https://index.crates.io/config.json`",
            "[6] Could not resolve hostname (Could not resolve host: index.crates.io)",
        ])
    );

    let v = verdict(CARGO_OFFLINE_DOWNLOAD, Some(101));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "error: failed to download `anstream v1.0.1`",
            "attempting to make an HTTP request, but --offline was specified",
        ])
    );
    assert_eq!(setup_lines(CARGO_OFFLINE_DOWNLOAD), v.lines);
}

#[test]
fn nextest_summaries_are_counted() {
    // Hand-written in cargo-nextest's shape.
    let out = "        PASS [   0.004s] cr tests::adds\n        FAIL [   0.003s] cr tests::adds_wrong\n------------\n     Summary [   0.005s] 5 tests run: 4 passed, 1 failed, 1 skipped\n";
    let r = parse(out);
    assert_eq!(counts(&r), (4, 1, 1));
    assert_eq!(r.failures, paths(&["cr tests::adds_wrong"]));
}

#[test]
fn go_results_are_counted_with_and_without_v() {
    // Without -v a passing test prints nothing: the `ok` package counts one.
    let r = parse(GO_FAIL);
    assert_eq!(counts(&r), (1, 1, 0));
    assert_eq!(r.failures, paths(&["TestSub"]));
    let v = verdict(GO_FAIL, Some(1));
    assert_eq!(v.status, TestStatus::Failed);
    assert_eq!(
        v.lines,
        paths(&[
            "--- FAIL: TestSub (0.00s)",
            "calc_test.go:13: Sub(2, 1) = 3; want 1",
            "FAIL example.com/calc 0.002s",
        ])
    );

    let r = parse(GO_FAIL_V);
    assert_eq!(counts(&r), (2, 1, 1));
    assert_eq!(r.failures, paths(&["TestSub"]));
    let v = verdict(GO_FAIL_V, Some(1));
    assert_eq!(v.status, TestStatus::Failed);
    assert_eq!(
        v.lines,
        paths(&[
            "--- FAIL: TestSub (0.00s)",
            "calc_test.go:13: Sub(2, 1) = 3; want 1",
            "FAIL example.com/calc 0.010s",
        ])
    );

    let v = verdict(GO_ZERO, Some(0));
    assert!(parse(GO_ZERO).summary);
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(
        v.lines,
        paths(&["?    example.com/calc/cmd [no test files]"])
    );
}

#[test]
fn go_build_and_setup_failures_win_over_other_packages_passing() {
    let r = parse(GO_BUILD);
    assert_eq!(counts(&r), (1, 0, 0));
    let v = verdict(GO_BUILD, Some(2));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "# example.com/calc [example.com/calc.test]",
            "./calc.go:3:37: undefined: y",
            "./calc.go:4:37: undefined: y",
        ])
    );
    let known = paths(&["go.mod", "calc.go", "calc_test.go"]);
    assert_eq!(named_paths(GO_BUILD, "", &known), paths(&["calc.go"]));

    let v = verdict(GO_SETUP, Some(1));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "util/util_test.go:6:2: no required module provides package github.com/stretchr/testify/assert; to add it:"
        ])
    );
    // Hand-written in go's shape: a missing go.sum entry.
    let gosum = "calc_test.go:6:2: missing go.sum entry for module providing package github.com/stretchr/testify (imported by example.com/calc); to add:\n\tgo get -t example.com/calc\nFAIL\texample.com/calc [setup failed]\nFAIL\n";
    assert_eq!(verdict(gosum, Some(1)).status, TestStatus::SetupFailed);
}

#[test]
fn vitest_missing_export_called_in_a_test_is_a_failed_test() {
    // TodoPage.jsx imports `getTodos` from ../api.js, which only exports
    // `listTodos`; the test calls TodoPage(). Vitest does not check the
    // import: the call fails with a TypeError inside the test.
    let r = parse(VITEST_MISSING_EXPORT);
    assert_eq!(counts(&r), (1, 2, 1));
    assert_eq!(
        r.failures,
        paths(&[
            "tests/TodoPage.test.jsx > TodoPage > renders no todos",
            "tests/api.test.js > api > is wrong",
        ])
    );
    let v = verdict(VITEST_MISSING_EXPORT, Some(1));
    assert_eq!(v.status, TestStatus::Failed);
    assert_eq!(
        v.lines,
        paths(&[
            "FAIL  tests/TodoPage.test.jsx > TodoPage > renders no todos",
            "TypeError: getTodos is not a function",
            "❯ TodoPage src/components/TodoPage.jsx:4:10",
            "FAIL  tests/api.test.js > api > is wrong",
            "AssertionError: expected [] to deeply equal [ 1 ]",
            "Tests  2 failed | 1 passed | 1 skipped (4)",
        ])
    );
    let known = paths(&[
        "backend/app.py",
        "frontend/src/api.js",
        "frontend/src/components/TodoPage.jsx",
        "frontend/tests/TodoPage.test.jsx",
        "frontend/tests/api.test.js",
    ]);
    assert_eq!(
        named_paths(VITEST_MISSING_EXPORT, "frontend", &known),
        paths(&[
            "frontend/tests/api.test.js",
            "frontend/tests/TodoPage.test.jsx",
            "frontend/src/components/TodoPage.jsx",
        ])
    );
    // Colours do not change what is read.
    let r = parse(VITEST_COLOURED);
    assert_eq!(counts(&r), (1, 2, 1));
    assert_eq!(r.failures.len(), 2);
}

#[test]
fn vitest_missing_export_called_at_module_scope_is_a_build_failure() {
    // The same import, but TodoPage.jsx calls getTodos() at load: the test
    // file fails to load (`Failed Suites 1`) while another file passes.
    let r = parse(VITEST_MODULE_SCOPE);
    assert_eq!(counts(&r), (1, 0, 0));
    assert_eq!(r.failures, paths(&["tests/TodoPage.test.jsx"]));
    let v = verdict(VITEST_MODULE_SCOPE, Some(1));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "FAIL  tests/TodoPage.test.jsx [ tests/TodoPage.test.jsx ]",
            "TypeError: getTodos is not a function",
            "❯ src/components/TodoPage.jsx:3:17",
        ])
    );
    let known = paths(&[
        "src/api.js",
        "src/components/TodoPage.jsx",
        "tests/TodoPage.test.jsx",
    ]);
    assert_eq!(
        named_paths(VITEST_MODULE_SCOPE, "", &known),
        paths(&["tests/TodoPage.test.jsx", "src/components/TodoPage.jsx"])
    );
}

#[test]
fn vite_names_the_missing_export_and_both_files() {
    let v = verdict(VITE_BUILD_MISSING_EXPORT, Some(1));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "[MISSING_EXPORT] \"getTodos\" is not exported by \"src/api.js\".",
            "╭─[ src/components/TodoPage.jsx:1:10 ]",
        ])
    );
    let known = paths(&[
        "frontend/src/api.js",
        "frontend/src/components/TodoPage.jsx",
    ]);
    assert_eq!(
        named_paths(VITE_BUILD_MISSING_EXPORT, "frontend", &known),
        paths(&[
            "frontend/src/api.js",
            "frontend/src/components/TodoPage.jsx"
        ])
    );
}

#[test]
fn vitest_no_files_missing_modules_and_parse_errors() {
    let r = parse(VITEST_NONE);
    assert!(r.summary);
    let v = verdict(VITEST_NONE, Some(1));
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(
        v.lines,
        paths(&["No test files found, exiting with code 1"])
    );

    // A missing package and a missing project file: the package decides.
    let r = parse(VITEST_MISSING_MODULES);
    assert!(r.summary);
    assert_eq!(counts(&r), (0, 0, 0));
    let v = verdict(VITEST_MISSING_MODULES, Some(1));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "Error: Cannot find package 'axios' imported from /tmp/samples/vt3/tests/ax.test.js"
        ])
    );
    let no_axios: String = VITEST_MISSING_MODULES
        .lines()
        .filter(|l| !l.contains("axios"))
        .map(|l| format!("{l}\n"))
        .collect();
    let v = verdict(&no_axios, Some(1));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "Error: Cannot find module '../src/missing.js' imported from /tmp/samples/vt3/tests/rel.test.js",
            "❯ tests/rel.test.js:2:1",
        ])
    );

    let v = verdict(VITEST_PARSE_ERROR, Some(1));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "Error: Transform failed with 1 error:",
            "[PARSE_ERROR] Unexpected token",
            "╭─[ src/broken.jsx:2:17 ]",
        ])
    );
    let known = paths(&["src/broken.jsx", "tests/broken.test.jsx"]);
    assert_eq!(
        named_paths(VITEST_PARSE_ERROR, "", &known),
        paths(&["tests/broken.test.jsx", "src/broken.jsx"])
    );
}

#[test]
fn vite_resolve_errors_of_older_vitest_are_read() {
    // Hand-written in vitest 1's shape.
    let out = " FAIL  src/api.test.js [ src/api.test.js ]\nError: Failed to resolve import \"axios\" from \"src/api.js\". Does the file exist?\n ❯ src/api.js:1:18\n\n Test Files  1 failed (1)\n      Tests  no tests\n";
    assert_eq!(verdict(out, Some(1)).status, TestStatus::SetupFailed);
    let out = out.replace("\"axios\"", "\"./utils\"");
    let v = verdict(&out, Some(1));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines.last().map(String::as_str),
        Some("❯ src/api.js:1:18")
    );
}

#[test]
fn jest_reports_are_read() {
    let r = parse(JEST_FAIL);
    assert_eq!(counts(&r), (2, 1, 1));
    assert_eq!(r.failures, paths(&["api › counts"]));
    let v = verdict(JEST_FAIL, Some(1));
    assert_eq!(v.status, TestStatus::Failed);
    assert_eq!(
        v.lines,
        paths(&[
            "● api › counts",
            "expect(received).toBe(expected) // Object.is equality",
            "Tests:       1 failed, 1 skipped, 2 passed, 4 total",
        ])
    );

    // A test file that cannot load for a missing package: setup, even
    // though another file ran and failed.
    let r = parse(JEST_MISSING_PACKAGE);
    assert_eq!(counts(&r), (2, 1, 1));
    assert_eq!(r.failures, paths(&["api › counts", "__tests__/ax.test.js"]));
    let v = verdict(JEST_MISSING_PACKAGE, Some(1));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&["Cannot find module 'axios' from '__tests__/ax.test.js'"])
    );

    let v = verdict(JEST_PASS, Some(0));
    assert_eq!(v.status, TestStatus::Passed);
    assert_eq!(
        v.lines,
        paths(&["Tests:       1 skipped, 3 passed, 4 total"])
    );

    assert!(parse(JEST_NONE).summary);
    let v = verdict(JEST_NONE, Some(1));
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(v.lines, paths(&["No tests found, exiting with code 1"]));
}

#[test]
fn node_test_reports_are_read_from_tap_and_spec() {
    for output in [NODE_FAIL, NODE_SPEC] {
        let r = parse(output);
        assert_eq!(counts(&r), (2, 1, 1));
        assert_eq!(r.failures, paths(&["subtracts"]));
        assert_eq!(verdict(output, Some(1)).status, TestStatus::Failed);
    }
    let v = verdict(NODE_FAIL, Some(1));
    assert_eq!(
        v.lines,
        paths(&[
            "not ok 2 - subtracts",
            "Expected values to be strictly equal:",
            "# fail 1",
        ])
    );

    let v = verdict(NODE_ZERO, Some(0));
    assert!(parse(NODE_ZERO).summary);
    assert_eq!(v.status, TestStatus::NoTests);
    assert_eq!(v.lines, paths(&["# tests 0"]));
}

#[test]
fn node_test_files_that_do_not_load_are_build_or_setup_failures() {
    let r = parse(NODE_MISSING_EXPORT);
    assert_eq!(counts(&r), (0, 1, 0));
    assert_eq!(r.failures, paths(&["/tmp/samples/ntm/test/a.test.js"]));
    let v = verdict(NODE_MISSING_EXPORT, Some(1));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "# file:///tmp/samples/ntm/test/a.test.js:3",
            "# SyntaxError: The requested module '../src/api.js' does not provide an export named 'getTodos'",
        ])
    );
    let known = paths(&["package.json", "src/api.js", "test/a.test.js"]);
    assert_eq!(
        named_paths(NODE_MISSING_EXPORT, "", &known),
        paths(&["test/a.test.js"])
    );

    let v = verdict(NODE_MISSING_PACKAGE, Some(1));
    assert_eq!(v.status, TestStatus::SetupFailed);
    assert_eq!(
        v.lines,
        paths(&[
            "# Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'express' imported from /tmp/samples/ntm/test/b.test.js"
        ])
    );
}

#[test]
fn the_plain_line_is_read_alone_on_its_line() {
    assert_eq!(
        counts(&parse("Results: 5 passed, 1 failed, 2 skipped")),
        (5, 1, 2)
    );
    assert_eq!(counts(&parse("12 passed, 0 failed\n")), (12, 0, 0));
    for not_plain in [
        "we had 5 passed, 1 failed",
        "Results: 5 passed, 1 failed, 2 skipped, 1 todo",
        "5 failed, 1 passed",
        "Two words: 5 passed, 1 failed",
    ] {
        let r = parse(not_plain);
        assert!(!r.summary, "{not_plain}");
        assert_eq!(counts(&r), (0, 0, 0), "{not_plain}");
    }
    assert_eq!(
        verdict("Results: 5 passed, 0 failed", Some(0)).status,
        TestStatus::Passed
    );
    assert_eq!(
        verdict("Results: 0 passed, 0 failed", Some(0)).status,
        TestStatus::NoTests
    );
}

#[test]
fn exit_codes_and_missing_summaries_are_judged() {
    // No summary at all: no tests, whatever the exit code (hand-written).
    for exit in [0, 1] {
        let v = verdict("starting\nall good\n", Some(exit));
        assert_eq!(v.status, TestStatus::NoTests);
        assert_eq!(v.lines, paths(&[NO_SUMMARY]));
    }
    // A failure with exit 0 is still a failure.
    let v = verdict("==== 1 failed, 2 passed in 0.10s ====", Some(0));
    assert_eq!(v.status, TestStatus::Failed);
    // Tests passed but the command failed afterwards.
    let out = "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\nerror: coverage below 80%\n";
    assert_eq!(verdict(out, Some(1)).status, TestStatus::Failed);
    assert_eq!(verdict(out, Some(0)).status, TestStatus::Passed);
    // A compiler message inside a test that ran is that test's failure.
    let out = "FAILED tests/test_x.py::test_eval - SyntaxError: invalid syntax\n==== 1 failed, 2 passed in 0.10s ====\n";
    assert_eq!(verdict(out, Some(1)).status, TestStatus::Failed);
    // tsc before the tests, hand-written: nothing ran.
    let out = "src/api.ts(3,5): error TS2304: Cannot find name 'y'.\n";
    let v = verdict(out, Some(2));
    assert_eq!(v.status, TestStatus::BuildFailed);
    assert_eq!(
        v.lines,
        paths(&["src/api.ts(3,5): error TS2304: Cannot find name 'y'."])
    );
}

#[test]
fn timeouts_keep_the_last_three_lines() {
    let v = verdict("one\ntwo\n\x1b[31mthree\x1b[0m\n\nfour\n\n", None);
    assert_eq!(v.status, TestStatus::Timeout);
    assert_eq!(v.lines, paths(&["two", "three", "four"]));
    // Even with a summary: the run was killed.
    assert_eq!(verdict(CARGO_PASS, None).status, TestStatus::Timeout);
}

#[test]
fn setup_lines_name_the_package_and_the_network_error() {
    assert_eq!(
        setup_lines(PIP_NO_DISTRIBUTION),
        paths(&[
            "ERROR: Could not find a version that satisfies the requirement flask (from versions: none)",
            "ERROR: No matching distribution found for flask",
        ])
    );
    assert_eq!(
        setup_lines(NPM_NO_NETWORK),
        paths(&[
            "npm error code EAI_AGAIN",
            "npm error request to https://registry.npmjs.org/express failed, reason: getaddrinfo EAI_AGAIN registry.npmjs.org",
        ])
    );
    assert_eq!(
        setup_lines("a\n\nb\nc\n\x1b[1md\x1b[0m\ne\nf\n\n"),
        paths(&["b", "c", "d", "e", "f"])
    );
    // pip's error lines are no unittest names.
    let r = parse(PIP_NO_DISTRIBUTION);
    assert!(r.failures.is_empty());
    assert!(!r.summary);
}

#[test]
fn named_paths_resolve_relative_and_absolute_mentions() {
    let known = paths(&[
        "src/main.rs",
        "src/api.js",
        "backend/app/x.py",
        "frontend/src/App.jsx",
        "frontend/src/api.js",
        "tests/backend/test_auth.py",
        "x.go",
    ]);
    let out = " --> src/main.rs:3:5\n  File \"/abs/scratch/backend/app/x.py\", line 3, in f\n    at f (/abs/scratch/frontend/src/App.jsx:10:3)\ntests/backend/test_auth.py:12: AssertionError\n./x.go:3:1: undefined: y\n --> src/main.rs:9:1\nsee https://example.com/src/api.js and /elsewhere/api.js\n";
    assert_eq!(
        named_paths(out, "", &known),
        paths(&[
            "src/main.rs",
            "backend/app/x.py",
            "frontend/src/App.jsx",
            "tests/backend/test_auth.py",
            "x.go",
        ])
    );
    // Relative to the component's root; an absolute path takes the longest
    // known path it ends with.
    let out = "\"getTodos\" is not exported by \"src/api.js\"\n    at load (/tmp/w/frontend/src/api.js:1:1)\n";
    assert_eq!(
        named_paths(out, "frontend", &known),
        paths(&["frontend/src/api.js"])
    );
    assert_eq!(
        named_paths(out, "", &known),
        paths(&["src/api.js", "frontend/src/api.js"])
    );
    assert_eq!(
        named_paths("❯ ../src/api.js:1:1\n", "frontend/src", &known),
        paths(&["frontend/src/api.js"])
    );
    assert!(named_paths("❯ ../../../etc/passwd:1:1\n", "frontend", &known).is_empty());
}

#[test]
fn hostile_counts_saturate_and_names_are_bounded() {
    let out = "Ran 4294967295 tests in 0s\nRan 4294967295 tests in 0s\nOK\n\
               test result: ok. 4294967295 passed; 4294967295 failed; 0 ignored\n\
               # pass 4294967295\n# fail 4294967295\n";
    let r = parse(out);
    assert_eq!((r.passed, r.failed), (u32::MAX, u32::MAX));
    let many: String = (0..80)
        .map(|i| format!("--- FAIL: Test{i} (0.00s)\n"))
        .collect();
    let r = parse(&many);
    assert_eq!(r.failures.len(), 50);
    assert_eq!(r.failed, 80);
    let long = format!("--- FAIL: Test{} (0.00s)\n", "x".repeat(1000));
    assert_eq!(parse(&long).failures[0].chars().count(), 300);
    let v = verdict(&long, Some(1));
    assert!(v.lines.iter().all(|l| l.chars().count() <= 300));
    // Escape sequences in a name do not survive.
    let r = parse("--- FAIL: Test\x1b]52;c;eA==\x07Evil (0.00s)\n");
    assert_eq!(r.failures, paths(&["TestEvil"]));
}

#[test]
fn an_unreachable_registry_is_named() {
    assert_eq!(
        unreachable("  [6] Could not resolve hostname (Could not resolve host: index.crates.io)"),
        Some("Could not resolve host")
    );
    assert_eq!(unreachable("npm error errno EAI_AGAIN"), Some("EAI_AGAIN"));
    assert_eq!(
        unreachable("error: no matching package named `clapp` found"),
        None
    );
}

#[test]
fn the_common_summaries_are_counted_with_names() {
    let count = |out: &str| {
        let r = parse(out);
        (r.passed, r.failed, r.failures)
    };
    let ok = "test_a (t.T) ... ok\n\n----------------------------------------------------------------------\nRan 12 tests in 0.01s\n\nOK\n";
    assert_eq!(count(ok), (12, 0, vec![]));
    let bad = "======================================================================\nFAIL: test_b (tests.test_x.T.test_b)\n----\nRan 5 tests in 0.1s\n\nFAILED (failures=1, errors=1, skipped=1)\n";
    let (p, f, names) = count(bad);
    assert_eq!((p, f), (2, 2));
    assert_eq!(names, vec!["test_b (tests.test_x.T.test_b)".to_string()]);
    assert_eq!(count("===== 2 failed, 10 passed in 0.12s =====").0, 10);
    assert_eq!(count("===== 2 failed, 10 passed in 0.12s =====").1, 2);
    let cargo =
        "---- t::b stdout ----\ntest result: FAILED. 5 passed; 1 failed; 0 ignored; 0 measured";
    assert_eq!(count(cargo), (5, 1, vec!["t::b".to_string()]));
    let go = "--- PASS: TestA (0.00s)\n--- FAIL: TestB (0.00s)\n";
    assert_eq!(count(go), (1, 1, vec!["TestB".to_string()]));
    let pytest = "tests/test_a.py .F.\n\
               =========================== short test summary info ============================\n\
               FAILED tests/test_a.py::test_delete - AssertionError: 404 != 204\n\
               ========================= 1 failed, 2 passed in 0.05s ==========================\n";
    assert_eq!(
        count(pytest),
        (2, 1, vec!["tests/test_a.py::test_delete".to_string()])
    );
}
