//! The list of every model the matrix runs, and the macro that expands a set of test
//! functions into one test per (model, test) pair.
//!
//! `serve_cli::list_shows_every_model_of_the_matrix` fails if this list and
//! `iomodels list` ever disagree, so a new model cannot go untested.

/// Every model, as (module name, model name).
macro_rules! for_each_model {
    ($callback:ident! $args:tt) => {
        $callback! { $args
            blocking = "blocking",
            select = "select",
            poll = "poll",
            epoll = "epoll",
            epoll_et = "epoll-et",
            selector = "selector",
            fork = "fork",
            threads = "threads",
            prefork = "prefork",
            prethread = "prethread",
            threadpool = "threadpool",
            select_threads = "select-threads",
            r#async = "async",
            coroutines = "coroutines",
            epoll_threads = "epoll-threads",
            async_mt = "async-mt",
            reuseport = "reuseport",
            uring = "uring",
            epoll_prefork = "epoll-prefork",
        }
    };
}

/// `per_model!([test_a, test_b])` expands, inside the calling module, to
/// `mod blocking { #[test] fn test_a() { super::test_a("blocking") } ... }` for every
/// model: each test function takes the model name.
macro_rules! per_model {
    ($tests:tt) => {
        for_each_model!(per_model_expand! $tests);
    };
}

macro_rules! per_model_expand {
    ($tests:tt $($module:ident = $model:literal),* $(,)?) => {
        $( per_model_one!($module $model $tests); )*
    };
}

macro_rules! per_model_one {
    ($module:ident $model:literal [$($test:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $test() {
                    super::$test($model);
                }
            )*
        }
    };
}

macro_rules! model_names_expand {
    ([] $($module:ident = $model:literal),* $(,)?) => {
        &[$($model),*]
    };
}

/// The names of every model in the matrix.
pub fn all() -> &'static [&'static str] {
    for_each_model!(model_names_expand![])
}

/// Every event loop (the readiness models and uring) as (module name, model name): the
/// models that carry work out inline, in a pool or with their own timers
/// (`serve_work_loops::the_loop_list_is_every_model_that_offloads_from_a_loop` keeps it
/// in step with the registry).
macro_rules! for_each_loop_model {
    ($callback:ident! $args:tt) => {
        $callback! { $args
            select = "select",
            poll = "poll",
            epoll = "epoll",
            epoll_et = "epoll-et",
            selector = "selector",
            select_threads = "select-threads",
            epoll_threads = "epoll-threads",
            reuseport = "reuseport",
            uring = "uring",
            epoll_prefork = "epoll-prefork",
        }
    };
}

/// [`per_model!`] over the event loops only.
macro_rules! per_loop_model {
    ($tests:tt) => {
        for_each_loop_model!(per_model_expand! $tests);
    };
}

/// The names of every event loop.
pub fn loops() -> &'static [&'static str] {
    for_each_loop_model!(model_names_expand![])
}
