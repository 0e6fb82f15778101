// Spak.g4 — the formal grammar of spakc's SPAK-style .dsl files (docs/language.md is the prose version).
//
// Generated at build time with Debian's ANTLR 4.7.2 tool for the C++ 4.9 runtime (dsl/CMakeLists.txt).
//
// Newlines. The lexer emits NL tokens; before the parser sees them, Parser.cpp filters them Go-style: an NL survives
// only (a) outside ( ) and [ ], (b) after a token that can end an expression or entry (a name, literal, ')', ']',
// '}'), and (c) when the next token is not '{'. So entries may be separated by newlines, spaces or commas, one entry
// may continue on the next line after an operator or inside brackets, and `artifact "a"` / `artifact "b"` on two lines
// are two directives, not one. Runs of NLs are collapsed into one.
//
// Keywords are soft: every keyword is also accepted by the `name` rule, so `rule:`, `state: 1`, `in` as a key work.
grammar Spak;

@parser::members {
  // Nesting guard: deeply nested input (hostile or fuzzed) must produce an error, never a stack overflow.
  // Rules that recurse (block, expr, ...) hold a DepthGuard for their lifetime; past the limit it throws
  // NestingTooDeep, which Parser.cpp catches and reports.
  struct NestingTooDeep {
    antlr4::Token *token;
  };
  unsigned nestingDepth = 0;
  unsigned nestingLimit = 200;
  struct DepthGuard {
    SpakParser &p;
    explicit DepthGuard(SpakParser &parser) : p(parser) {
      if (++p.nestingDepth > p.nestingLimit) {
        --p.nestingDepth;
        throw NestingTooDeep{p.getCurrentToken()};
      }
    }
    ~DepthGuard() { --p.nestingDepth; }
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------------------------------

file        : FRONT_MATTER? (topItem | NL | ';')* EOF ;
topItem     : importDecl | systemDecl | targetDecl | rulesDecl ;
importDecl  : IMPORT STRING ;
systemDecl  : SYSTEM name block ;
targetDecl  : TARGET name STRING? block ;
rulesDecl   : RULES name block ;

block
@init { DepthGuard depthGuard_(*this); }
            : '{' (entry | sep)* '}' ;
sep         : NL | ',' | ';' ;

// Order matters only for true ambiguities (ANTLR picks the first viable alternative): keyword forms come before the
// generic property/block/directive forms, so `rule "X" { }` is a rule and not a generic block.
entry
            : procedureEntry
            | lawEntry
            | ruleEntry
            | factEntry
            | invariantEntry
            | hintEntry
            | stateEntry
            | parameterEntry
            | paramDecl
            | groupDecl
            | forwardDecl
            | returnEntry
            | assignEntry
            | propertyEntry
            | blockEntry
            | directiveEntry
            ;

lawEntry       : LAW name ('.' name)? '=' expr ;   // `law matmul.warps = 8`: a law for one kernel kind
ruleEntry      : RULE (STRING | name) block ;
factEntry      : FACT name (factParams)? block ;
factParams     : '(' (factParam (',' factParam)* ','?)? ')' ;
factParam      : name (':' expr)? ;
invariantEntry : INVARIANT (STRING | name) block ;
hintEntry      : HINT (STRING | name) block ;
stateEntry     : STATE name ':' expr ('=' expr)? ;
parameterEntry : PARAMETER name ':' expr ;
returnEntry    : RETURN expr ;
assignEntry    : path '=' expr ;
propertyEntry  : word+ ':' expr ;
blockEntry     : word+ block ;
directiveEntry : word+ ;
word           : path | STRING | NUMBER ;
path           : name ('.' name)* ;

// Kernel pseudo-code: statements up to the end of the enclosing block. Loop bodies are recovered from columns.
procedureEntry : PROCEDURE name ':' (procStmt | NL | ';')* ;
procStmt       : FOR name IN expr ':'                         # procFor
               | expr (assignOp expr)?                        # procExprOrAssign
               ;
assignOp       : '=' | '+=' | '-=' | '*=' | '/=' ;

// The model language.
paramDecl   : PARAM path '[' exprList? ']' ('~' expr)? (AS STRING)? ;
groupDecl   : GROUP name '[' expr ']' (AS STRING)? groupBody ;
groupBody
@init { DepthGuard depthGuard_(*this); }
            : '{' (paramDecl | sep)* '}' ;
forwardDecl : FORWARD '(' (forwardArg (',' forwardArg)* ','?)? ')' stmtBlock ;
forwardArg  : name ':' name ('[' exprList? ']')? ;
stmtBlock
@init { DepthGuard depthGuard_(*this); }
            : '{' (stmt | sep)* '}' ;
stmt        : REPEAT name IN expr stmtBlock                   # repeatStmt
            | name '=' expr                                   # assignStmt
            ;

// Expressions, tightest first.
expr
@init { DepthGuard depthGuard_(*this); }
            : expr '.' name                                   # memberExpr
            | expr '[' exprList? ']'                          # indexExpr
            | expr '(' callArgs? ')'                          # callExpr
            | expr '{' mapEntries '}'                         # ctorExpr
            | <assoc=right> expr '**' expr                    # powExpr
            | op=('-' | '+' | '!') expr                       # unaryExpr
            | expr op=('*' | '/' | '%' | '@') expr            # mulExpr
            | expr op=('+' | '-') expr                        # addExpr
            | expr '..' expr                                  # rangeExpr
            | expr op=('<' | '<=' | '>' | '>=') expr          # relExpr
            | expr op=('==' | '!=') expr                      # eqExpr
            | expr '|' expr                                   # altExpr
            | expr '&&' expr                                  # andExpr
            | expr '||' expr                                  # orExpr
            | primary                                         # primaryExpr
            ;
primary     : NUMBER                                          # numberLit
            | STRING                                          # stringLit
            | (TRUE | FALSE)                                  # boolLit
            | name                                            # nameRef
            | '(' expr ')'                                    # parenExpr
            | '[' exprList? ']'                               # listLit
            | '{' mapEntries '}'                              # mapLit
            ;
exprList    : expr (',' expr)* ','? ;
callArgs    : callArg (',' callArg)* ','? ;
callArg     : name (':' | '=') expr                           # keywordArg
            | expr                                            # positionalArg
            ;
mapEntries  : (mapEntry | sep)* ;
mapEntry    : (name | STRING) ':' expr ;

name        : ID | IMPORT | SYSTEM | TARGET | RULES | RULE | FACT | INVARIANT | LAW | HINT | STATE | PARAMETER
            | PROCEDURE | RETURN | PARAM | GROUP | FORWARD | REPEAT | IN | AS | FOR ;

// ---------------------------------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------------------------------

// Front matter: only at the very start of the file, between two lines that are `---`. One token; Parser.cpp splits
// its lines into `key: value` items (values verbatim).
FRONT_MATTER
          : '---' [ \t]* '\r'? '\n' (.*? '\n')? '---' [ \t]* ('\r'? '\n' | EOF) { tokenStartCharIndex == 0 }? ;

IMPORT    : 'import' ;
SYSTEM    : 'system' ;
TARGET    : 'target' ;
RULES     : 'rules' ;
RULE      : 'rule' ;
FACT      : 'fact' ;
INVARIANT : 'invariant' ;
LAW       : 'law' ;
HINT      : 'hint' ;
STATE     : 'state' ;
PARAMETER : 'parameter' ;
PROCEDURE : 'procedure' ;
RETURN    : 'return' ;
PARAM     : 'param' ;
GROUP     : 'group' ;
FORWARD   : 'forward' ;
REPEAT    : 'repeat' ;
IN        : 'in' ;
AS        : 'as' ;
FOR       : 'for' ;
TRUE      : 'true' ;
FALSE     : 'false' ;

ID        : [a-zA-Z_] [a-zA-Z_0-9]* ;
NUMBER    : DIGIT+ ('.' DIGIT+)? ([eE] [+-]? DIGIT+)? ;
STRING    : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"'
          | '\'' (~['\\\r\n] | '\\' ~[\r\n])* '\''
          ;
UNTERMINATED_STRING
          : '"' (~["\\\r\n] | '\\' ~[\r\n])*
          | '\'' (~['\\\r\n] | '\\' ~[\r\n])*
          ;

LBRACE    : '{' ;
RBRACE    : '}' ;
LPAREN    : '(' ;
RPAREN    : ')' ;
LBRACK    : '[' ;
RBRACK    : ']' ;
COMMA     : ',' ;
SEMI      : ';' ;
COLON     : ':' ;
ASSIGN    : '=' ;
PLUS_ASSIGN  : '+=' ;
MINUS_ASSIGN : '-=' ;
STAR_ASSIGN  : '*=' ;
SLASH_ASSIGN : '/=' ;
EQ        : '==' ;
NE        : '!=' ;
LE        : '<=' ;
GE        : '>=' ;
LT        : '<' ;
GT        : '>' ;
AND       : '&&' ;
OR        : '||' ;
BAR       : '|' ;
NOT       : '!' ;
POW       : '**' ;
PLUS      : '+' ;
MINUS     : '-' ;
STAR      : '*' ;
SLASH     : '/' ;
PERCENT   : '%' ;
AT        : '@' ;
TILDE     : '~' ;
DOTDOT    : '..' ;
DOT       : '.' ;

NL            : '\r'? '\n' ;
WS            : [ \t\f]+ -> skip ;
LINE_COMMENT  : ('//' | '#') ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? ('*/' | EOF) -> channel(HIDDEN) ;   // unterminated ones are reported by Parser.cpp
ERROR_CHAR    : . ;                                           // reported by Parser.cpp as "invalid character"

fragment DIGIT : [0-9] ;
