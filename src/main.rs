fn main() -> std::process::ExitCode {
    int_check::cli::main()
}
